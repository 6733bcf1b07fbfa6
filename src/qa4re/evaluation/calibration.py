"""Confidence calibration: the NA threshold chosen on dev data, and reliability bins.

Pure functions over prediction records (the dicts of ``predictions.jsonl``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from qa4re.evaluation.metrics import micro_prf, pair_counts
from qa4re.prompts.decode import thresholded_relation


def choose_na_threshold(examples: Sequence[tuple[str, Mapping[str, float]]], na_relation: str) -> float:
    """The NA threshold with the best micro-F1 on ``examples`` (gold, relation probabilities).

    Candidates are 0 and every example's best non-NA probability; ties go to the lowest
    threshold, the one closest to plain argmax-over-positives.
    """
    golds = [gold for gold, _ in examples]
    candidates = sorted({0.0} | {max((p for r, p in probs.items() if r != na_relation), default=0.0) for _, probs in examples})
    best, best_f1 = 0.0, -1.0
    for threshold in candidates:
        predictions = [thresholded_relation(probs, na_relation, threshold) for _, probs in examples]
        f1 = micro_prf(pair_counts(golds, predictions), na_relation)["f1"]
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Predictions whose confidence falls in [low, high): how many, mean confidence, accuracy."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability_bins(confidences: Iterable[float], correct: Iterable[bool], bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width confidence bins (the last one closed) for a reliability diagram."""
    sums = [[0, 0.0, 0] for _ in range(bins)]
    for confidence, ok in zip(confidences, correct, strict=True):
        index = min(int(confidence * bins), bins - 1)
        sums[index][0] += 1
        sums[index][1] += confidence
        sums[index][2] += ok
    return [ReliabilityBin(i / bins, (i + 1) / bins, int(n), total / n if n else 0.0, hits / n if n else 0.0) for i, (n, total, hits) in enumerate(sums)]


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy."""
    total = sum(b.count for b in bins)
    return sum(b.count * abs(b.mean_confidence - b.accuracy) for b in bins) / total if total else 0.0
