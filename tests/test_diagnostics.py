"""Diagnostics of answering by position: pure functions, then `qa4re evaluate` on the real embedded model."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import SemEvalRun
from helpers import SEMEVAL, qa4re, read_jsonl
from qa4re.evaluation.diagnostics import AnswerDiagnostics, gold_rank
from qa4re.types import Prediction


def prediction(gold: str, probabilities: dict[str, float], answer: str = "A", mass: float | None = 0.9) -> Prediction:
    letters = {letter: relation for letter, relation in zip("ABCD", ["r1", "r2", "r3", "na"], strict=True)}
    return Prediction("x", gold, letters[answer], probabilities[answer], probabilities, letters, "", answer=answer, letter_mass=mass)


def test_gold_rank_counts_better_options_and_splits_ties() -> None:
    assert gold_rank(prediction("r2", {"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.1})) == (2, 2.5)
    assert gold_rank(prediction("r1", {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25})) == (2.5, 2.5)
    assert gold_rank(prediction("unknown", {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0})) is None


def test_a_position_reader_without_signal_gets_all_three_warnings() -> None:
    diagnostics = AnswerDiagnostics()
    for i in range(40):
        gold = ["r1", "r2", "r3", "na"][i % 4]
        diagnostics.add(prediction(gold, {"A": 0.7, "B": 0.1, "C": 0.1, "D": 0.1}, mass=0.2))
    summary = diagnostics.summary()
    assert summary.top_answer == "A" and summary.top_answer_share == 1.0
    assert summary.gold_rank is not None and summary.gold_rank.advantage_ci95[0] <= 0
    assert [w.split(":")[0] for w in summary.warnings] == ["answers by position", "low letter mass", "no content signal"]
    position, mass, content = summary.warnings  # each says what was measured to help, and where
    assert "--debias pride" in position and "--answer-prefix" in mass and "--method vanilla" in content
    assert all("README, Accuracy: Measured accuracy" in w for w in summary.warnings)


def test_a_reader_that_ranks_the_gold_first_has_no_warning() -> None:
    diagnostics = AnswerDiagnostics()
    for i in range(40):
        letter = "ABCD"[i % 4]
        probabilities = {x: (0.7 if x == letter else 0.1) for x in "ABCD"}
        diagnostics.add(prediction(["r1", "r2", "r3", "na"][i % 4], probabilities, answer=letter))
    summary = diagnostics.summary()
    assert summary.gold_rank is not None and summary.gold_rank.advantage == pytest.approx(1.5) and summary.warnings == ()


def test_evaluate_reports_diagnostics_that_match_its_predictions(semeval_run: Callable[[str], SemEvalRun]) -> None:
    run = semeval_run("qa4re")
    out = run.output
    records = read_jsonl(out / "predictions.jsonl")
    diagnostics = json.loads((out / "metrics.json").read_text())["diagnostics"]
    top, count = Counter(r["answer"] for r in records).most_common(1)[0]
    assert (diagnostics["top_answer"], diagnostics["top_answer_share"]) == (top, count / len(records))
    assert diagnostics["mean_letter_mass"] == pytest.approx(sum(r["letter_mass"] for r in records) / len(records))
    assert all(0 < r["letter_mass"] <= 1 for r in records)
    ranks = []
    for r in records:
        gold = r["option_probabilities"][next(letter for letter, rel in r["letter_to_relation"].items() if rel == r["gold"])]
        values = r["option_probabilities"].values()
        ranks.append(1 + sum(p > gold for p in values) + (sum(p == gold for p in values) - 1) / 2)
    assert diagnostics["gold_rank"]["mean"] == pytest.approx(sum(ranks) / len(ranks))
    assert diagnostics["gold_rank"]["chance"] == 10.0  # 19 options
    for warning in diagnostics["warnings"]:
        assert f"warning: {warning}" in " ".join(run.stderr.split())
    report = (out / "report.md").read_text()
    assert "gold rank advantage" in report and all(w in report for w in diagnostics["warnings"])
    assert (count / len(records) > 0.8) == any(w.startswith("answers by position") for w in diagnostics["warnings"])


@pytest.mark.model
def test_answer_prefix_and_content_free_calibration_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "6", "--output", out, "--cache", tmp_path / "c.sqlite",
          "--answer-prefix", "Option:", "--debias", "content-free")  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["model_calls"] == 6 + 1  # every SemEval question has the same 19 candidates: one content-free prompt
    assert metrics["run"]["config"]["answer_prefix"] == "Option:" and metrics["run"]["config"]["debias"] == "content-free"
    records = read_jsonl(out / "predictions.jsonl")
    assert all(sum(r["option_probabilities"].values()) == pytest.approx(1.0) for r in records)
    bad = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--output", out, "--debias", "pryde", check=False)
    assert bad.returncode == 2 and "pryde" in bad.stderr


def test_gold_offered_counts_positive_golds_among_the_final_options() -> None:
    diagnostics = AnswerDiagnostics(na_relation="NA")
    diagnostics.add(prediction("r1", {"A": 0.6, "B": 0.4}))  # offered
    diagnostics.add(prediction("r9", {"A": 0.6, "B": 0.4}))  # dropped by a selection: not among the options
    diagnostics.add(prediction("NA", {"A": 0.6, "B": 0.4}))  # NA gold: not counted
    summary = diagnostics.summary()
    assert (summary.n_gold_offered, summary.n_positive) == (1, 2)
