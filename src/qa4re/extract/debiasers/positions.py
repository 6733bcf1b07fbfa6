"""Position-bias debiasing of option scores: pure functions over per-position probabilities.

A multiple-choice answer mixes what the options say with where they stand. Three remedies,
each working on any backend that returns log-probabilities:

- permutation averaging: score ``k`` cyclic shifts of the options and average each option's
  probability over the positions it was shown in;
- PriDe (Zheng et al. 2023, "Large Language Models Are Not Robust Multiple Choice Selectors"):
  estimate a prior over positions from all cyclic shifts of a few of the run's own inputs, no
  labels needed, and divide it out of every later answer;
- content-free calibration (Zhao et al. 2021, "Calibrate Before Use"): score the same prompt with
  the sentence and mentions replaced by ``N/A`` and divide its probabilities out.

Probabilities here are lists by option position (index ``i`` = the ``i``-th option of the
unshifted prompt), renormalized over the options.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

_FLOOR = 1e-12  # a probability never divided by or logged below this


def cyclic_shifts(n: int, k: int) -> list[int]:
    """``k`` evenly spaced cyclic shifts of ``n`` options (all ``n`` when ``k >= n``), 0 first."""
    if n <= 0:
        return [0]
    return sorted({round(i * n / min(k, n)) % n for i in range(max(1, min(k, n)))})


def unrotate(probabilities: Sequence[float], rotation: int) -> list[float]:
    """Per original option: the probability it got when the options were shifted by ``rotation``."""
    n = len(probabilities)
    return [probabilities[(i - rotation) % n] for i in range(n)]


def _normalized(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else [1 / len(weights)] * len(weights)


def permutation_average(by_rotation: Mapping[int, Sequence[float]]) -> list[float]:
    """Each original option's mean probability over the shifted prompts (``rotation -> probs by position``)."""
    rows = [unrotate(p, r) for r, p in by_rotation.items()]
    return _normalized([sum(column) / len(rows) for column in zip(*rows, strict=True)])


def position_prior(by_rotation: Mapping[int, Sequence[float]]) -> list[float]:
    """PriDe's prior over positions from the cyclic shifts of one input.

    Under all cyclic shifts every option stands once at every position, so the mean log
    probability of a position, over the shifts, leaves only the position's own preference.
    """
    n = len(next(iter(by_rotation.values())))
    logs = [sum(math.log(max(p[j], _FLOOR)) for p in by_rotation.values()) / len(by_rotation) for j in range(n)]
    top = max(logs)
    return _normalized([math.exp(v - top) for v in logs])


def divide_prior(probabilities: Sequence[float], prior: Sequence[float]) -> list[float]:
    """``probabilities`` with ``prior`` divided out, renormalized."""
    return _normalized([p / max(q, _FLOOR) for p, q in zip(probabilities, prior, strict=True)])


class PositionPriors:
    """Running PriDe priors, one per number of options (the prior of a position depends on it)."""

    def __init__(self, samples: int) -> None:
        self.samples = samples  # inputs per option count used to estimate its prior
        self._sums: dict[int, list[float]] = {}
        self._counts: dict[int, int] = {}

    def count(self, n: int) -> int:
        """Inputs with ``n`` options that the prior has seen."""
        return self._counts.get(n, 0)

    def add(self, prior: Sequence[float]) -> None:
        """Add the prior estimated from one input."""
        n = len(prior)
        sums = self._sums.setdefault(n, [0.0] * n)
        for j, value in enumerate(prior):
            sums[j] += value
        self._counts[n] = self.count(n) + 1

    def get(self, n: int) -> list[float]:
        """The mean prior of ``n`` options (uniform before any estimate)."""
        return _normalized(self._sums[n]) if n in self._sums else [1 / n] * n
