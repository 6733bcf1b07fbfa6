"""WebRED 5: the reader, its fixed dev/test partition, the built-in schema without type constraints."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES
from qa4re.datasets import OnError, dataset_file, read_dataset
from qa4re.datasets.webred import split_of
from qa4re.errors import DataError
from qa4re.extract.pipeline import ExtractorConfig, PreparedPrompt, PromptBuilder
from qa4re.schemas.loader import load_schema
from qa4re.types import ErrorRecord, RelationInstance

SAMPLE = FIXTURES / "webred_small.jsonl"


def test_reader_gives_untyped_character_spans_and_a_bad_span_names_line_and_field() -> None:
    with pytest.raises(DataError, match=r"webred_small.jsonl:3.*tail.char_span"):
        list(read_dataset("webred", SAMPLE))
    items = list(read_dataset("webred", SAMPLE, OnError.SKIP))
    instances = [i for i in items if isinstance(i, RelationInstance)]
    assert [i.id for i in instances] == ["w-0", "w-1", "w-3"]
    assert [i.id for i in items if isinstance(i, ErrorRecord)] == ["w-2"]
    first = instances[0]
    assert (first.subj_text, first.obj_text, first.type_pair, first.relation) == ("Norway", "Oslo", None, "capital")


def test_dev_and_test_come_from_the_one_file_of_a_webred_folder(tmp_path: Path) -> None:
    (tmp_path / "webred5_sentence_re.jsonl").write_bytes(SAMPLE.read_bytes())
    assert dataset_file("webred", tmp_path, "dev") == dataset_file("webred", tmp_path, "test") == tmp_path / "webred5_sentence_re.jsonl"


def test_dev_and_test_partition_the_file_by_example_id() -> None:
    every = [i.id for i in read_dataset("webred", SAMPLE, OnError.SKIP, "all") if isinstance(i, RelationInstance)]
    dev = [i.id for i in read_dataset("webred", SAMPLE, OnError.SKIP, "dev") if isinstance(i, RelationInstance)]
    test = [i.id for i in read_dataset("webred", SAMPLE, OnError.SKIP, "test") if isinstance(i, RelationInstance)]
    assert sorted(dev + test) == sorted(every) and not set(dev) & set(test)
    assert all(split_of(i) == "dev" for i in dev) and all(split_of(i) == "test" for i in test)
    with pytest.raises(DataError, match="splits dev, test, train, all"):
        list(read_dataset("webred", SAMPLE, OnError.SKIP, "validation"))


def test_the_schema_offers_every_relation_since_webred_has_no_types() -> None:
    schema = load_schema("webred")
    assert len(schema.relations) == 173 and schema.na_relation == "no_relation" and not schema.constraints
    instance = next(i for i in read_dataset("webred", SAMPLE, OnError.SKIP) if isinstance(i, RelationInstance))
    prepared = PromptBuilder(schema, ExtractorConfig()).prepare(instance)
    assert isinstance(prepared, PreparedPrompt) and not prepared.fallback
    assert len(prepared.prompt.options) == 173 and prepared.prompt.answers[-1] == "FQ"
    assert ". The capital of [Norway] is [Oslo]\n" in prepared.prompt.text  # Re-DocRED's template for a shared property
    assert ". [Norway] shares border with [Oslo]\n" in prepared.prompt.text  # a generic one, by the shape of the name


def test_a_line_that_is_not_utf8_is_one_error_record_and_the_other_lines_are_read(tmp_path: Path) -> None:
    bad = tmp_path / "webred.jsonl"
    bad.write_bytes(SAMPLE.read_bytes().replace(b"Anna Berg was born", b"Anna B\xe9rg was born", 1))
    with pytest.raises(DataError, match=r"webred.jsonl:2: not valid UTF-8"):
        list(read_dataset("webred", bad))
    items = list(read_dataset("webred", bad, OnError.SKIP))
    assert [(type(i).__name__, getattr(i, "line", None)) for i in items if isinstance(i, ErrorRecord)] == [("ErrorRecord", 2), ("ErrorRecord", 3)]
    assert [i.id for i in items if isinstance(i, RelationInstance)] == ["w-0", "w-3"]
