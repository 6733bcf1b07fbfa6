"""Bad input on the command line: one clear line, exit status 2, no traceback (issue 14, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import SEMEVAL, qa4re


def one_line_error(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    assert getattr(result, "returncode", None) == 2 and "Traceback" not in stderr, stderr
    return str(stderr).strip()


def test_a_mistyped_dataset_is_answered_with_a_suggestion(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semval", "--data", SEMEVAL, "--output", tmp_path / "o", check=False)
    assert one_line_error(result).startswith("error: Unknown dataset 'semval'. Did you mean: semeval?")


@pytest.mark.parametrize("limit", ["-5", "0"])
def test_a_limit_below_one_is_a_usage_error(tmp_path: Path, limit: str) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--output", tmp_path / "o", "--limit", limit, check=False)
    assert "Invalid value for '--limit'" in one_line_error(result)


def test_extract_help_says_the_mention_cap_is_per_sentence() -> None:
    from typer.testing import CliRunner

    from qa4re.cli import app

    result = CliRunner().invoke(app, ["extract", "--help"], env={"COLUMNS": "300"})
    assert "Most mentions per sentence (first in text order)." in result.output


@pytest.mark.parametrize(("name", "message"), [("missing.jsonl", "no such file"), (".", "is a directory, not an input file")])
def test_extract_refuses_an_input_that_is_not_a_file_before_loading_a_model(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    result = qa4re("extract", "--schema", "tacred", "--input", path, "--output", tmp_path / "out.jsonl", check=False)
    assert one_line_error(result) == f"error: {path}: {message}"


def test_one_bad_byte_is_one_error_record_and_the_other_lines_are_read(tmp_path: Path) -> None:
    good = {"id": "d1", "text": "Anna Berg lives in Oslo.", "entities": [{"start": 0, "end": 9, "type": "PERSON"}, {"start": 19, "end": 23, "type": "CITY"}]}
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"id": "d0", "text": "caf\xe9"}\n' + json.dumps(good).encode() + b"\n")
    out = tmp_path / "out.jsonl"
    result = qa4re("extract", "--schema", "tacred", "--input", path, "--output", out, "--model", "fake:plumbing", "--include-na",
                   "--cache", tmp_path / "c.sqlite")  # fmt: skip
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["line"] == 1 and "not valid UTF-8" in records[0]["error"]
    assert {r.get("doc_id") for r in records[1:]} == {"d1"}
    assert "1 documents" in result.stderr and "1 errors" in result.stderr


def test_extract_explains_why_nothing_was_scored(tmp_path: Path) -> None:
    entities = [{"start": 0, "end": 9, "type": "HUMAN"}, {"start": 20, "end": 29, "type": "FIRM"}]
    odd = {"id": "c1", "text": "Anna Berg works for Northwind.", "entities": entities}
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(odd) + "\n")
    result = qa4re("extract", "--schema", "tacred", "--input", path, "--output", tmp_path / "o.jsonl", "--model", "fake:plumbing", "--cache", tmp_path / "c")
    assert "warning: no candidate pairs: the entity types FIRM, HUMAN are not in the schema's constraints" in " ".join(result.stderr.split())
    untyped = tmp_path / "untyped.jsonl"
    untyped.write_text(json.dumps({"id": "u", "text": odd["text"], "entities": [{"start": 0, "end": 9}, {"start": 20, "end": 29}]}) + "\n")
    result = qa4re("extract", "--schema", "tacred", "--input", untyped, "--output", tmp_path / "o.jsonl", "--model", "fake:plumbing", "--cache", tmp_path / "c")
    assert "warning: no candidate pairs: 2 mentions have no type, and the schema's type constraints need types" in " ".join(result.stderr.split())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = qa4re("extract", "--schema", "tacred", "--input", empty, "--output", tmp_path / "o.jsonl", "--model", "fake:plumbing", "--cache", tmp_path / "c")
    assert f"warning: {empty} holds no documents" in " ".join(result.stderr.split())


def test_version_and_schema_listing_with_template_sets() -> None:
    assert qa4re("--version").stdout.strip() == "qa4re 0.1.0"
    listing = qa4re("schemas").stdout
    assert "tacred\tqa4re.tacred.v1\t42 relations\ttemplate sets: temp2, temp1, temp3, temp4 (default temp2)" in listing


def test_an_invalid_record_keeps_its_id_in_the_error_record(tmp_path: Path) -> None:
    from qa4re.datasets import OnError, read_dataset
    from qa4re.types import ErrorRecord

    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": "keep-me", "text": "Ann", "subj": {"start": 0, "end": 3}, "obj": {"start": 5, "end": 9}}) + "\n")
    (record,) = list(read_dataset("jsonl", path, OnError.SKIP))
    assert isinstance(record, ErrorRecord) and record.id == "keep-me" and record.field == "obj"


def test_extract_counts_mentions_left_out_past_max_entities(tmp_path: Path) -> None:
    words = [f"Day{d}" for d in range(30)]
    text = " ".join(words) + "."
    starts = [sum(len(w) + 1 for w in words[:d]) for d in range(30)]
    dates = [{"start": start, "end": start + len(word), "type": "DATE"} for start, word in zip(starts, words, strict=True)]
    path = tmp_path / "dates.jsonl"
    path.write_text(json.dumps({"id": "dates", "text": text, "entities": dates}) + "\n")
    result = qa4re("extract", "--schema", "tacred", "--input", path, "--output", tmp_path / "o.jsonl", "--model", "fake:plumbing", "--cache", tmp_path / "c")
    assert "warning: 10 mentions were left out because their sentence holds more than --max-entities" in " ".join(result.stderr.split())


def test_a_ten_thousand_word_document_is_split_into_sentences_and_an_over_long_prompt_is_an_error(tmp_path: Path) -> None:
    sentence = "Anna Berg was born in Oslo and later moved with her family to a small town near the coast."
    text = " ".join([sentence] * 550)  # about 10,000 words
    starts = [i * (len(sentence) + 1) for i in range(550)]
    entities = [{"start": s, "end": s + 9, "type": "PERSON"} for s in starts[:3]] + [{"start": s + 22, "end": s + 26, "type": "CITY"} for s in starts[:3]]
    long_doc = {"id": "long", "text": text, "entities": entities}
    one_sentence = {"id": "run-on", "text": text, "entities": entities[:1] + entities[3:4], "sentences": [[0, len(text)]]}
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(long_doc) + "\n" + json.dumps(one_sentence) + "\n")
    out = tmp_path / "o.jsonl"
    result = qa4re("extract", "--schema", "tacred", "--input", path, "--output", out, "--include-na", "--cache", tmp_path / "c", check=False)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    split = [r for r in records if r["doc_id"] == "long"]
    assert split and all(r["evidence"] == sentence for r in split)  # pairs stay inside spaCy's sentences
    failed = [r for r in records if r["doc_id"] == "run-on"]
    assert failed and all(r["relation"] is None and "more than the model's context of 8192" in r["error"] for r in failed)
    assert "2 documents" in result.stderr and f"{len(failed)} errors" in result.stderr


def test_a_bad_byte_in_a_dataset_line_is_one_skipped_record(tmp_path: Path) -> None:
    from qa4re.datasets import OnError, read_dataset
    from qa4re.errors import DataError
    from qa4re.types import ErrorRecord, RelationInstance

    good = json.dumps({"id": "ok", "text": "Ann met Bob.", "subj": {"start": 0, "end": 3}, "obj": {"start": 8, "end": 11}}).encode()
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b'{"id": "bad", "text": "caf\xe9"}\n' + good + b"\n")
    first, second = list(read_dataset("jsonl", path, OnError.SKIP))
    assert isinstance(first, ErrorRecord) and first.line == 1 and "not valid UTF-8" in first.message
    assert isinstance(second, RelationInstance) and second.id == "ok"
    with pytest.raises(DataError, match=r"pairs.jsonl:1: not valid UTF-8"):
        list(read_dataset("jsonl", path, OnError.STOP))


def test_the_preselect_selector_without_a_count_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--output", tmp_path / "o", "--selector", "preselect", check=False)
    assert result.returncode == 2 and result.stderr.strip() == "error: --selector preselect needs --preselect N (how many candidates to keep)"


def test_a_command_that_draws_no_plot_imports_no_matplotlib() -> None:
    import subprocess
    import sys

    code = "import sys, qa4re.cli; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
