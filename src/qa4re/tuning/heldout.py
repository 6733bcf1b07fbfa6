"""Held-out multiple-choice accuracy and letter spread, read as the backends read QA4RE's letters.

Each held-out item is asked in the held-out wording (never trained on) twice: with its own options
in their order, and padded with option texts of other held-out items to ``options`` letters, its
answer at a seeded position. The answer is the letter with the highest log-probability among the
options' letters; the top letter's share says how much a letter prior, not the content, decides.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa4re.tuning.items import MCItem
from qa4re.tuning.objectives.base import request
from qa4re.tuning.render import RenderedItem, heldout_item


@dataclass(frozen=True, slots=True)
class LetterReading:
    """Accuracy over a set of rendered items, chance, and the most chosen letter with its share."""

    accuracy: float
    chance: float
    top_letter: str
    top_share: float
    n: int

    def line(self) -> str:
        return f"{self.accuracy:.3f} (chance {self.chance:.3f}, top {self.top_letter} {self.top_share:.0%})"


@dataclass(frozen=True, slots=True)
class HeldoutFigures:
    own: LetterReading
    padded: LetterReading
    options: int

    def line(self) -> str:
        return f"held-out own options {self.own.line()}; {self.options} options {self.padded.line()}"

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"own": asdict(self.own), "padded": asdict(self.padded), "options": self.options}


def heldout_sets(items: Sequence[MCItem], limit: int, options: int, seed: int) -> tuple[list[RenderedItem], list[RenderedItem]]:
    """The first ``limit`` items of a seeded shuffle, rendered with their own options and padded to ``options``."""
    chosen = list(items)
    random.Random(f"heldout:{seed}").shuffle(chosen)
    chosen = chosen[:limit]
    pool = [t for item in items for t in item.options]
    rng = random.Random(f"heldout-padded:{seed}")
    return [heldout_item(i, None, pool, rng) for i in chosen], [heldout_item(i, options, pool, rng) for i in chosen]


def reading(backend: Any, items: Sequence[RenderedItem]) -> LetterReading:
    """``backend`` (any qa4re backend that scores options) asked every item; its argmax letters counted."""
    scores = backend.score_options([request(i) for i in items])
    chosen = [max(s.logprobs, key=lambda a: s.logprobs[a]) for s in scores]
    right = sum(c == i.letters[i.gold] for c, i in zip(chosen, items, strict=True))
    top, count = Counter(chosen).most_common(1)[0] if chosen else ("-", 0)
    chance = sum(1 / len(i.letters) for i in items) / max(1, len(items))
    return LetterReading(right / max(1, len(items)), chance, top, count / max(1, len(items)), len(items))


def measure(backend: Any, own: Sequence[RenderedItem], padded: Sequence[RenderedItem], options: int) -> HeldoutFigures:
    return HeldoutFigures(reading(backend, own), reading(backend, padded), options)
