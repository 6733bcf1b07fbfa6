from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FIXTURES
from qa4re.evaluation.metrics import accuracy, confusion_matrix, micro_prf, pair_counts, per_relation, semeval_official

SCORER = FIXTURES / "semeval_scorer"


def test_micro_f1_excludes_na_as_the_tacred_scorer() -> None:
    golds = ["a", "a", "b", "NA", "NA", "b"]
    preds = ["a", "b", "NA", "a", "NA", None]
    score = micro_prf(pair_counts(golds, preds), "NA")
    # correct non-NA: 1 (a); predicted non-NA: a, b, a = 3; gold non-NA: 4
    assert (score["correct"], score["predicted"], score["gold"]) == (1, 3, 4)
    assert score["precision"] == pytest.approx(1 / 3)
    assert score["recall"] == pytest.approx(1 / 4)
    assert score["f1"] == pytest.approx(2 / 7)


def test_accuracy_counts_missing_predictions_as_wrong() -> None:
    assert accuracy(pair_counts(["a", "b", "NA", "a"], ["a", None, "NA", "b"])) == 0.5


def test_per_relation_and_confusion_matrix() -> None:
    golds, preds = ["a", "a", "b"], ["a", "b", None]
    table = per_relation(pair_counts(golds, preds))
    assert table["a"]["recall"] == 0.5 and table["b"]["precision"] == 0.0
    assert confusion_matrix(pair_counts(golds, preds)) == {"a": {"a": 1, "b": 1}, "b": {"(none)": 1}}


def read_answers(path: Path) -> dict[str, str]:
    return dict(line.strip().split("\t") for line in path.read_text().splitlines() if line.strip())


@pytest.mark.parametrize("case", [1, 2, 5])
def test_semeval_official_score_matches_the_official_scorer(case: int) -> None:
    key = read_answers(SCORER / f"answer_key{case}.txt")
    proposed = read_answers(SCORER / f"proposed_answer{case}.txt")
    golds = list(key.values())
    pairs = pair_counts(golds, [proposed.get(i) for i in key])  # ids the system skipped have no prediction
    printed = (SCORER / f"result_scores{case}.txt").read_text()
    official = float(re.findall(r"macro-averaged F1 = ([\d.]+)%", printed)[-1])
    official_micro = float(re.findall(r"Micro-averaged result \(excluding Other\):\nP =.*F1 = +([\d.]+)%", printed)[-1])
    assert 100 * semeval_official(pairs)["macro_f1"] == pytest.approx(official, abs=0.01)
    assert 100 * micro_prf(pairs, "Other")["f1"] == pytest.approx(official_micro, abs=0.01)
