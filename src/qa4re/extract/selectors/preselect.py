"""Preselection: keep an instance's ``preselect`` likeliest candidates, ranked by a method's answer scores, then ask.

The ranking method is a registry name (``preselect_by``); by default SuRE's: the mean
log-probability per token of each candidate's filled templates as a summary of the sentence, all
in one prompt per instance (a relation counts its best answer). The kept candidates stay in schema
order, so an option's place says nothing of its rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from qa4re.errors import ConfigError
from qa4re.extract.builder import PreparedPrompt, PromptBuilder
from qa4re.extract.methods import get_method
from qa4re.extract.selectors.base import Round, Selector
from qa4re.extract.selectors.by_size import by_size
from qa4re.prompts.decode import best_by_relation
from qa4re.types import ErrorKind, ErrorRecord, Output


class Preselect(Selector):
    """Ranks the candidates of each prompt with more than ``preselect`` of them, then decides by size (tournament or flat)."""

    name = "preselect"
    takes = ("preselect", "preselect_by", "max_options")

    def narrow(self, prompts: Sequence[PreparedPrompt], round: Round) -> list[PreparedPrompt | Output]:
        """Each prompt over its kept candidates, or the error record of a failed ranking."""
        config, na = round.config, round.schema.na_relation
        keep = config.preselect or 0
        large = [k for k, p in enumerate(prompts) if len({o.relation for o in p.prompt.options} - {na}) > keep]
        method = get_method(config.preselect_by)
        ranker = PromptBuilder(round.schema, replace(config, method=method.name, shots=0, na_first=False, shuffle_options=False), method=method)
        ranked = [ranker.variant(prompts[k]) for k in large]
        scores = round.score([ranker.method.request(r.prompt, config.system) for r in ranked])
        selected: list[PreparedPrompt | Output] = list(prompts)
        for k, r, s in zip(large, ranked, scores, strict=True):
            instance = prompts[k].instance
            if s.error is not None:
                why = f"model call failed (pre-ranking): {s.error}"
                selected[k] = ErrorRecord(instance.id, instance.source, None, None, why, instance.relation, kind=ErrorKind.MODEL)
                continue
            best = best_by_relation(r.prompt.options, method.answer_scores(s), skip=na)
            top = set(sorted(best, key=lambda relation: -best[relation])[:keep])
            selected[k] = round.narrowed(prompts[k], tuple(o.relation for o in prompts[k].prompt.options if o.relation in top))
        return selected

    def select(self, prompts: Sequence[PreparedPrompt], round: Round) -> list[Output]:
        if not round.config.preselect:
            raise ConfigError("the preselect selector needs --preselect N")
        selected = self.narrow(prompts, round)
        decided = iter(by_size([p for p in selected if isinstance(p, PreparedPrompt)], round))
        return [next(decided) if isinstance(p, PreparedPrompt) else p for p in selected]
