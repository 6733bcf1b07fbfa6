"""Uncertainty of micro-F1: bootstrap confidence intervals and a paired bootstrap test.

Pure functions over per-example (gold, prediction) lists; seeded, so results repeat.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from qa4re.evaluation.metrics import micro_prf, pair_counts


def _micro_f1(golds: Sequence[str], predictions: Sequence[str | None], na: str, sample: Sequence[int]) -> float:
    return micro_prf(pair_counts((golds[i] for i in sample), (predictions[i] for i in sample)), na)["f1"]


def bootstrap_f1_interval(
    golds: Sequence[str], predictions: Sequence[str | None], na: str, *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of micro-F1 (NA excluded) over examples."""
    if not golds:
        raise ValueError("no examples to resample")
    rng = random.Random(seed)
    n = len(golds)
    scores = sorted(_micro_f1(golds, predictions, na, [rng.randrange(n) for _ in range(n)]) for _ in range(samples))
    tail = (1 - level) / 2
    return scores[int(tail * (samples - 1))], scores[int((1 - tail) * (samples - 1))]


@dataclass(frozen=True, slots=True)
class PairedTest:
    """Micro-F1 of two systems on the same examples, their difference, and its p-value."""

    f1_a: float
    f1_b: float
    difference: float
    p_value: float


def paired_bootstrap_test(
    golds: Sequence[str], predictions_a: Sequence[str | None], predictions_b: Sequence[str | None], na: str, *, samples: int = 1000, seed: int = 0
) -> PairedTest:
    """Two-sided paired bootstrap test of micro-F1(A) - micro-F1(B) on the same examples.

    The p-value is the share of resamples whose difference, centred on the observed one, is at
    least as extreme as the observed difference (Berg-Kirkpatrick et al. 2012 style).
    """
    if not (len(golds) == len(predictions_a) == len(predictions_b)) or not golds:
        raise ValueError("the two systems must be scored on the same non-empty example list")
    everything = range(len(golds))
    f1_a, f1_b = _micro_f1(golds, predictions_a, na, everything), _micro_f1(golds, predictions_b, na, everything)
    observed = f1_a - f1_b
    rng = random.Random(seed)
    n = len(golds)
    extreme = 0
    for _ in range(samples):
        sample = [rng.randrange(n) for _ in range(n)]
        delta = _micro_f1(golds, predictions_a, na, sample) - _micro_f1(golds, predictions_b, na, sample)
        extreme += abs(delta - observed) >= abs(observed)
    return PairedTest(f1_a, f1_b, observed, (extreme + 1) / (samples + 1))
