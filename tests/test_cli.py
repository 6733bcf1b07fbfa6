"""The qa4re command end to end, with the real embedded model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GOLDEN, SemEvalRun
from helpers import SEMEVAL, independent_scores, qa4re, read_jsonl, rows


@pytest.mark.parametrize("method", ["qa4re", "vanilla"])
def test_evaluate_writes_predictions_metrics_and_report(tmp_path: Path, method: str, semeval_run: Callable[[str], SemEvalRun]) -> None:
    run = semeval_run(method)
    out = run.output
    assert "micro F1 (no NA)" in run.stdout
    assert run.stdout.splitlines()[0].startswith(f"{method} · semeval test · transformers:embedded:")  # the title is one unbroken line
    records = read_jsonl(out / "predictions.jsonl")
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["id"] for r in records] == [str(i) for i in range(1, 13)]
    assert all(r["prediction"] in r["letter_to_relation"].values() and sum(r["option_probabilities"].values()) == pytest.approx(1.0) for r in records)
    assert (metrics["n_examples"], metrics["n_errors"]) == (12, 0)
    for key, value in independent_scores(records, "Other").items():
        assert metrics[key] == pytest.approx(value)
    assert "## Confusion matrix" in (out / "report.md").read_text()
    again = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--method", method, "--output", tmp_path / "again", "--cache", run.cache)
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["run"]["model_calls"] == 0, again.stderr
    assert read_jsonl(tmp_path / "again" / "predictions.jsonl") == records


def test_few_shot_and_sampling_options_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    qa4re(
        "evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--shots", "2", "--limit", "2", "--seed", "1", "--output", out, "--cache", tmp_path / "c.sqlite"
    )
    assert len(read_jsonl(out / "predictions.jsonl")) == 2


def test_killed_run_resumes_without_rescoring_finished_examples(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    args = ["evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--split", "train", "--batch-size", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "qa4re", *args, "--output", tmp_path / "killed", "--cache", cache], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while rows(cache) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = rows(cache)
    assert 3 <= done < 8, "the run was not killed half way"
    qa4re(*args, "--output", tmp_path / "resumed", "--cache", cache)
    resumed = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert resumed["run"]["model_calls"] == 8 - done
    qa4re(*args, "--output", tmp_path / "straight", "--cache", tmp_path / "fresh.sqlite")
    assert read_jsonl(tmp_path / "resumed" / "predictions.jsonl") == read_jsonl(tmp_path / "straight" / "predictions.jsonl")


def test_bad_input_fails_with_file_line_and_field_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Ann met Bob", "subj": {"start": 0, "end": 3}, "obj": {"start": 8, "end": 11}}\n{"text": "x", "subj": {"start": 0}}\n')
    result = qa4re("evaluate", "--dataset", "jsonl", "--schema", "tacred", "--data", bad, "--output", tmp_path / "o", check=False)
    assert result.returncode == 2
    assert f"{bad}:2: subj.end: missing" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_skip_records_bad_lines_and_predicts_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    lines = [
        {
            "id": "a",
            "text": "Anna Berg married Tom Lind.",
            "subj": {"start": 0, "end": 9, "type": "PERSON"},
            "obj": {"start": 18, "end": 26, "type": "PERSON"},
            "relation": "per:spouse",
        },
        {"id": "b", "text": "short", "subj": {"start": 0, "end": 2}, "obj": {"start": 3, "end": 99}},
        {
            "id": "c",
            "text": "Acme hired Bo Li.",
            "subj": {"start": 0, "end": 4, "type": "ORGANIZATION"},
            "obj": {"start": 11, "end": 16, "type": "PERSON"},
            "relation": "org:best",
        },
    ]
    data.write_text("\n".join(map(json.dumps, lines)) + "\n")
    out = tmp_path / "o"
    qa4re("evaluate", "--dataset", "jsonl", "--schema", "tacred", "--data", data, "--on-error", "skip", "--output", out, "--cache", tmp_path / "c.sqlite")
    records = read_jsonl(out / "predictions.jsonl")
    assert [r["prediction"] is not None for r in records] == [True, False, False]
    assert records[1]["field"] == "obj" and records[1]["line"] == 2 and records[2]["field"] == "relation"
    assert json.loads((out / "metrics.json").read_text())["n_errors"] == 2


def test_predict_writes_one_record_per_input_line(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(
        json.dumps(
            {
                "id": "a",
                "text": "Paul Weber was born in Hamburg.",
                "subj": {"start": 0, "end": 10, "type": "PERSON"},
                "obj": {"start": 23, "end": 30, "type": "CITY"},
            }
        )
        + "\n"
        + json.dumps(
            {"id": "b", "text": "Acme hired Bo Li.", "subj": {"start": 0, "end": 4, "type": "ORGANIZATION"}, "obj": {"start": 11, "end": 16, "type": "PERSON"}}
        )
        + "\n"
    )
    qa4re("predict", "--schema", "tacred", "--input", data, "--output", tmp_path / "out.jsonl", "--cache", tmp_path / "c.sqlite")
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["id"], r["subj"], r["obj"]) for r in records] == [("a", "Paul Weber", "Hamburg"), ("b", "Acme", "Bo Li")]
    assert Counter(r["letter_to_relation"][r["answer"]] == r["prediction"] for r in records) == Counter({True: 2})


def test_prompt_command_prints_the_golden_prompt(tmp_path: Path) -> None:
    case = json.loads((GOLDEN / "retacred_person_person.json").read_text())
    data = tmp_path / "test.json"
    data.write_text(json.dumps([case["example_tacred_json"]]))
    result = qa4re("prompt", "--dataset", "retacred", "--data", data)
    assert result.stdout == case["expected_prompt"] + "\n"
