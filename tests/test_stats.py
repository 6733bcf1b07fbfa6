from __future__ import annotations

import random

import pytest

from qa4re.evaluation.stats import bootstrap_f1_interval, bootstrap_mean_f1_interval, paired_bootstrap_runs_test, paired_bootstrap_test

LABELS = ["a", "b", "c", "NA"]


def noisy(golds: list[str], accuracy: float, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    return [g if rng.random() < accuracy else rng.choice(LABELS) for g in golds]


GOLDS = [random.Random(1).choice(LABELS) for _ in range(300)]


def test_interval_contains_the_point_estimate_and_is_seeded() -> None:
    predictions = noisy(GOLDS, 0.6, seed=2)
    low, high = bootstrap_f1_interval(GOLDS, predictions, "NA", samples=300)
    test = paired_bootstrap_test(GOLDS, predictions, predictions, "NA", samples=10)
    assert low < test.f1_a < high
    assert (low, high) == bootstrap_f1_interval(GOLDS, predictions, "NA", samples=300)


def test_clearly_better_system_is_significant_and_identical_systems_are_not() -> None:
    good, bad = noisy(GOLDS, 0.9, seed=3), noisy(GOLDS, 0.3, seed=4)
    assert paired_bootstrap_test(GOLDS, good, bad, "NA", samples=300).p_value < 0.01
    same = paired_bootstrap_test(GOLDS, good, good, "NA", samples=300)
    assert same.difference == 0 and same.p_value == 1.0


def test_systems_must_cover_the_same_examples() -> None:
    with pytest.raises(ValueError, match="same non-empty"):
        paired_bootstrap_test(GOLDS, GOLDS[:-1], GOLDS, "NA")


def test_runs_test_averages_seeds_and_its_interval_holds_the_difference() -> None:
    good = [noisy(GOLDS, 0.9, seed=s) for s in (5, 6)]
    bad = [noisy(GOLDS, 0.5, seed=s) for s in (7, 8)]
    test = paired_bootstrap_runs_test(GOLDS, good, bad, "NA", samples=200)
    single = [paired_bootstrap_test(GOLDS, g, b, "NA", samples=10) for g, b in zip(good, bad, strict=True)]
    assert test.f1_a == pytest.approx(sum(s.f1_a for s in single) / 2)
    assert test.interval[0] < test.difference < test.interval[1] and test.interval[0] > 0
    low, high = bootstrap_mean_f1_interval(GOLDS, good, "NA", samples=200)
    assert low < test.f1_a < high
