"""Uncertainty of micro-F1: bootstrap confidence intervals and a paired bootstrap test.

Pure functions over per-example gold labels and predictions; seeded, so results repeat. A
system may be given as several runs over the same examples (one per seed): its score is then
the mean micro-F1 over the runs, and resampling picks the same examples in every run.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qa4re.evaluation.metrics import PairCounts, micro_prf, pair_counts

Predictions = Sequence[str | None]


def _mean_f1(golds: Sequence[str], runs: Sequence[Predictions], na: str, sample: Sequence[int]) -> float:
    scores = [micro_prf(pair_counts((golds[i] for i in sample), (run[i] for i in sample)), na)["f1"] for run in runs]
    return sum(scores) / len(scores)


def _check(golds: Sequence[str], runs: Sequence[Predictions]) -> None:
    if not golds or not runs or any(len(run) != len(golds) for run in runs):
        raise ValueError("the systems must be scored on the same non-empty example list")


def _percentiles(values: list[float], level: float) -> tuple[float, float]:
    values = sorted(values)
    tail = (1 - level) / 2
    return values[int(tail * (len(values) - 1))], values[int((1 - tail) * (len(values) - 1))]


def bootstrap_mean_f1_interval(
    golds: Sequence[str], runs: Sequence[Predictions], na: str, *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean micro-F1 (NA excluded) of ``runs`` over examples."""
    _check(golds, runs)
    rng = random.Random(seed)
    n = len(golds)
    return _percentiles([_mean_f1(golds, runs, na, [rng.randrange(n) for _ in range(n)]) for _ in range(samples)], level)


def bootstrap_pair_intervals(
    pairs: PairCounts, statistic: Callable[[PairCounts], Mapping[str, float]], *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of each value ``statistic`` computes from (gold, prediction) counts, examples resampled."""
    kinds = sorted(pairs, key=lambda pair: (pair[0], pair[1] or ""))
    n = sum(pairs[k] for k in kinds)
    if not n:
        return {}
    rng, cumulative, total = random.Random(seed), [], 0
    for kind in kinds:
        total += pairs[kind]
        cumulative.append(total)
    values: dict[str, list[float]] = {}
    for _ in range(samples):
        drawn = Counter(rng.choices(range(len(kinds)), cum_weights=cumulative, k=n))
        for name, value in statistic({kinds[i]: c for i, c in drawn.items()}).items():
            values.setdefault(name, []).append(value)
    return {name: _percentiles(v, level) for name, v in values.items()}


def bootstrap_f1_interval(
    golds: Sequence[str], predictions: Predictions, na: str, *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of micro-F1 (NA excluded) over examples."""
    return bootstrap_mean_f1_interval(golds, [predictions], na, samples=samples, level=level, seed=seed)


@dataclass(frozen=True, slots=True)
class PairedTest:
    """Micro-F1 of two systems on the same examples, their difference, its interval and p-value."""

    f1_a: float
    f1_b: float
    difference: float
    interval: tuple[float, float]  # bootstrap interval of the difference
    p_value: float


def paired_bootstrap_runs_test(
    golds: Sequence[str], runs_a: Sequence[Predictions], runs_b: Sequence[Predictions], na: str, *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> PairedTest:
    """Two-sided paired bootstrap test of mean micro-F1(A) - mean micro-F1(B) on the same examples.

    The p-value is the share of resamples whose difference, centred on the observed one, is at
    least as extreme as the observed difference (Berg-Kirkpatrick et al. 2012 style).
    """
    _check(golds, [*runs_a, *runs_b])
    everything = range(len(golds))
    f1_a, f1_b = _mean_f1(golds, runs_a, na, everything), _mean_f1(golds, runs_b, na, everything)
    observed = f1_a - f1_b
    rng = random.Random(seed)
    n = len(golds)
    deltas = []
    for _ in range(samples):
        sample = [rng.randrange(n) for _ in range(n)]
        deltas.append(_mean_f1(golds, runs_a, na, sample) - _mean_f1(golds, runs_b, na, sample))
    extreme = sum(abs(delta - observed) >= abs(observed) for delta in deltas)
    return PairedTest(f1_a, f1_b, observed, _percentiles(deltas, level), (extreme + 1) / (samples + 1))


def paired_bootstrap_test(
    golds: Sequence[str], predictions_a: Predictions, predictions_b: Predictions, na: str, *, samples: int = 1000, seed: int = 0
) -> PairedTest:
    """:func:`paired_bootstrap_runs_test` for one run per system."""
    return paired_bootstrap_runs_test(golds, [predictions_a], [predictions_b], na, samples=samples, seed=seed)
