"""Pure functions from model output to a relation."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qa4re.types import Option


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen answer, its relation, its confidence and the normalized option probabilities."""

    answer: str
    relation: str
    confidence: float
    probabilities: dict[str, float]


def option_probabilities(logprobs: Mapping[str, float]) -> dict[str, float]:
    """Softmax of the answers' log-probabilities, renormalized over the answers only."""
    finite = [v for v in logprobs.values() if math.isfinite(v)]
    if not finite:
        return {a: 0.0 for a in logprobs}
    top = max(finite)
    weights = {a: (math.exp(v - top) if math.isfinite(v) else 0.0) for a, v in logprobs.items()}
    total = sum(weights.values())
    return {a: w / total for a, w in weights.items()}


def position_probabilities(options: Sequence[Option], logprobs: Mapping[str, float]) -> list[float]:
    """Probability of each option by position, renormalized over the options."""
    probabilities = option_probabilities({o.letter: logprobs.get(o.letter, -math.inf) for o in options})
    return [probabilities[o.letter] for o in options]


def letter_mass(options: Sequence[Option], logprobs: Mapping[str, float]) -> float:
    """Probability the model gives to answering with any option at all (before renormalizing)."""
    return sum(math.exp(v) for o in options if math.isfinite(v := logprobs.get(o.letter, -math.inf)))


def decide(options: Sequence[Option], logprobs: Mapping[str, float]) -> Decision | None:
    """The highest-scoring answer (first in option order on ties); None if nothing is scorable.

    The confidence is the probability of the chosen relation, summed over all its letters.
    """
    probabilities = option_probabilities({o.letter: logprobs.get(o.letter, -math.inf) for o in options})
    if not any(probabilities.values()):
        return None
    best = max(options, key=lambda o: probabilities[o.letter])
    return Decision(best.letter, best.relation, relation_probabilities(options, probabilities)[best.relation], probabilities)


def relation_probabilities(options: Sequence[Option], probabilities: Mapping[str, float]) -> dict[str, float]:
    """Probability of each relation: the sum over its letters."""
    return letter_relation_probabilities({o.letter: o.relation for o in options}, probabilities)


def letter_relation_probabilities(letter_to_relation: Mapping[str, str], probabilities: Mapping[str, float]) -> dict[str, float]:
    """Probability of each relation from a prediction's letter map and option probabilities (sum over its letters)."""
    by_relation: dict[str, float] = {}
    for letter, relation in letter_to_relation.items():
        by_relation[relation] = by_relation.get(relation, 0.0) + probabilities.get(letter, 0.0)
    return by_relation


def best_by_relation(options: Sequence[Option], scores: Mapping[str, float], skip: str | None = None) -> dict[str, float]:
    """Each relation's best score over its options (a relation with several templates counts its best one);
    ``scores`` by option letter (a missing one counts -inf); ``skip`` leaves that relation out."""
    best: dict[str, float] = {}
    for option in options:
        if option.relation != skip:
            best[option.relation] = max(best.get(option.relation, -math.inf), scores.get(option.letter, -math.inf))
    return best


def thresholded_relation(by_relation: Mapping[str, float], na_relation: str, threshold: float) -> str:
    """The best non-NA relation when its probability reaches ``threshold``, else NA."""
    positive = {r: p for r, p in by_relation.items() if r != na_relation}
    if not positive:
        return na_relation
    best = max(positive, key=lambda r: positive[r])
    return best if positive[best] >= threshold else na_relation


def apply_na_threshold(decision: Decision, options: Sequence[Option], na_relation: str, threshold: float) -> Decision:
    """``decision`` re-made with an NA threshold: NA unless the best non-NA relation reaches it."""
    by_relation = relation_probabilities(options, decision.probabilities)
    relation = thresholded_relation(by_relation, na_relation, threshold)
    letters = [o.letter for o in options if o.relation == relation]
    answer = max(letters, key=lambda a: decision.probabilities.get(a, 0.0)) if letters else decision.answer
    return Decision(answer, relation, by_relation.get(relation, 0.0), decision.probabilities)


_STANDALONE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,2})(?![A-Za-z0-9])")


def parse_letter(text: str, options: Sequence[Option]) -> Option | None:
    """The option of the first standalone valid letter in ``text`` (not any substring).

    ``"Option: C"`` gives C, not O; ``"B. [x] is ..."`` gives B; text with no valid
    standalone letter gives None (reported as unparsable, never guessed).
    """
    by_letter = {o.letter: o for o in options}
    for match in _STANDALONE.finditer(text):
        if match.group(1) in by_letter:
            return by_letter[match.group(1)]
    return None


def parse_label(text: str, options: Sequence[Option]) -> Option | None:
    """The option whose label occurs earliest in ``text`` (longest label on ties)."""
    found = [(text.find(o.letter), -len(o.letter), i) for i, o in enumerate(options) if o.letter in text]
    return options[min(found)[2]] if found else None
