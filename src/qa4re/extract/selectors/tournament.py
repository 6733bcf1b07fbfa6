"""Tournament: more candidates than a prompt can hold are asked in rounds; winners go on to the next round."""

from __future__ import annotations

from collections.abc import Sequence

from qa4re.errors import ConfigError
from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.selectors.base import Round, Selector
from qa4re.types import ErrorRecord, Output


class Tournament(Selector):
    """The candidates in groups of ``size - 1`` (each round's prompts also offer NA), the groups' non-NA
    winners to the next round, until one prompt holds them all; its answer is the prediction. No
    non-NA winner anywhere: NA, as the first group answered it. All prompts of a round are asked together."""

    name = "tournament"
    takes = ("max_options",)

    def select(self, prompts: Sequence[PreparedPrompt], round: Round) -> list[Output]:
        size = round.size
        if size is None:
            raise ConfigError("the tournament selector needs --max-options (or a method answering letters on a backend that bounds them)")
        if size < 2:
            raise ConfigError("max_options must be at least 2 (a candidate and NA)")
        na = round.schema.na_relation
        done: dict[int, Output] = {}
        current = {k: p for k, p in enumerate(prompts) if len(p.prompt.options) <= size}
        alive = {k: tuple(o.relation for o in p.prompt.options if o.relation != na) for k, p in enumerate(prompts) if k not in current}
        while alive:
            groups = [(k, c[i : i + size - 1]) for k, c in alive.items() for i in range(0, len(c), size - 1)]
            asked = [round.narrowed(prompts[k], group) for k, group in groups]
            winners: dict[int, list[str]] = {k: [] for k in alive}
            first: dict[int, Output] = {}
            for (k, _), output in zip(groups, round.ask(asked), strict=True):
                first.setdefault(k, output)
                if isinstance(output, ErrorRecord):
                    done[k] = output
                elif output.relation is not None and output.relation != na:
                    winners[k].append(output.relation)
            next_round: dict[int, tuple[str, ...]] = {}
            for k, won in winners.items():
                if k in done:
                    continue
                if not won:
                    done[k] = first[k]
                elif len(won) <= size - 1:
                    current[k] = round.narrowed(prompts[k], tuple(won))
                else:
                    next_round[k] = tuple(won)
            alive = next_round
        if current:
            keys = list(current)
            done.update(zip(keys, round.ask([current[k] for k in keys]), strict=True))
        return [done[k] for k in range(len(prompts))]
