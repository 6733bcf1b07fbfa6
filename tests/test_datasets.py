from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES
from qa4re.datasets import OnError, dataset_file, read_dataset, sample_positions
from qa4re.errors import DataError
from qa4re.types import ErrorRecord, RelationInstance


def instances(dataset: str, path: Path) -> list[RelationInstance]:
    items = list(read_dataset(dataset, path))
    assert all(isinstance(i, RelationInstance) for i in items)
    return items  # type: ignore[return-value]


def test_semeval_reader_strips_tags_and_keeps_spans() -> None:
    first = instances("semeval", FIXTURES / "semeval_small" / "TEST_FILE_FULL.TXT")[0]
    assert first.text == "The engine of the car was rebuilt last spring."
    assert (first.subj_text, first.obj_text, first.relation, first.type_pair) == ("engine", "car", "Component-Whole(e1,e2)", "MISC:MISC")


def test_semeval_reader_handles_crlf_line_ends() -> None:
    train = instances("semeval", FIXTURES / "semeval_small" / "TRAIN_FILE.TXT")
    assert len(train) == 8
    assert train[-1].relation == "Content-Container(e2,e1)"


def test_semeval_split_files_are_found_in_a_folder() -> None:
    assert dataset_file("semeval", FIXTURES / "semeval_small", "train").name == "TRAIN_FILE.TXT"


def test_tacred_token_offsets_are_inclusive() -> None:
    first = instances("tacred", FIXTURES / "tacred_small.json")[0]
    assert (first.subj_text, first.obj_text, first.type_pair) == ("Anna Berg", "Tom Lind", "PERSON:PERSON")


def test_one_line_json_array_is_read_too() -> None:
    assert [i.id for i in instances("tacred", FIXTURES / "tacred_train.json")] == ["tr1", "tr2", "tr3", "tr4"]


def write_jsonl(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD = {
    "id": "g",
    "text": "Marie Curie was born in Warsaw.",
    "subj": {"start": 0, "end": 11, "type": "PERSON"},
    "obj": {"start": 24, "end": 30, "type": "CITY"},
}


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ("{not json", None, "invalid JSON"),
        ({**GOOD, "text": 3}, "text", "expected str"),
        ({k: v for k, v in GOOD.items() if k != "obj"}, "obj", "missing"),
        ({**GOOD, "obj": {"start": 24, "end": 99}}, "obj", "outside the text"),
        ({**GOOD, "obj": {"start": 5, "end": 12}}, "obj", "overlaps"),
        ({**GOOD, "subj": {"start": "0", "end": 11}}, "subj.start", "expected int"),
        ({**GOOD, "subj": {"start": 0, "end": 11, "type": 7}}, "subj.type", "expected str"),
        ({**GOOD, "subj": {"start": 0, "end": 11, "text": "Pierre"}}, "subj.text", "does not match"),
    ],
)
def test_bad_jsonl_line_stops_with_file_line_and_field(tmp_path: Path, bad: object, field: str | None, reason: str) -> None:
    path = write_jsonl(tmp_path, [GOOD, bad, GOOD])
    with pytest.raises(DataError) as error:
        list(read_dataset("jsonl", path))
    assert (error.value.path, error.value.line, error.value.field) == (str(path), 2, field)
    assert reason in str(error.value)
    assert str(error.value).startswith(f"{path}:2: ")


def test_bad_lines_are_recorded_and_nothing_is_lost_with_skip(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, [GOOD, "[1, 2]", {**GOOD, "obj": {"start": -1, "end": 3}}, GOOD])
    items = list(read_dataset("jsonl", path, OnError.SKIP))
    assert [type(i).__name__ for i in items] == ["RelationInstance", "ErrorRecord", "ErrorRecord", "RelationInstance"]
    assert isinstance(items[2], ErrorRecord) and (items[2].line, items[2].field) == (3, "obj")


def test_bad_tacred_record_names_its_line_in_a_pretty_printed_array(tmp_path: Path) -> None:
    rows = json.loads((FIXTURES / "tacred_small.json").read_text())
    rows[2]["obj_end"] = 99
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows, indent=1))
    object_lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if line.strip() == "{"]
    expected_line = object_lines[2]
    with pytest.raises(DataError) as error:
        list(read_dataset("tacred", path))
    assert error.value.field == "obj_start"
    assert error.value.line == expected_line


def test_bad_semeval_block_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "TEST_FILE_FULL.TXT"
    path.write_text('1\t"The <e1>a</e1> b <e2>c</e2>."\nOther\nComment:\n\n2\t"No tags here."\nOther\nComment:\n\n')
    with pytest.raises(DataError, match=rf"^{path}:5: sentence: missing <e1>"):
        list(read_dataset("semeval", path))


def test_seeded_sample_is_stable_and_sized() -> None:
    first = sample_positions(100, 10, seed=3)
    assert first == sample_positions(100, 10, seed=3) and first is not None and len(first) == 10
    assert sample_positions(5, 10, seed=3) is None
