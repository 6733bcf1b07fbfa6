"""Texts with entity spans in, triples out: pair enumeration, and `qa4re extract` with the embedded model."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import FIXTURES
from helpers import qa4re, read_jsonl
from qa4re.backends.base import OptionScores, ScoreRequest
from qa4re.backends.fake import FakeBackend
from qa4re.errors import DataError
from qa4re.extract.documents import DocumentExtractor, DocumentResult, DocumentSettings
from qa4re.extract.pairs import Document, candidate_pairs, parse_document, read_documents
from qa4re.extract.pipeline import Extractor
from qa4re.schemas.loader import load_schema
from qa4re.types import Entity, ErrorRecord

NEWS = FIXTURES / "news_docs.jsonl"


def test_pairs_go_both_ways_and_type_constraints_filter_them_before_any_model_call() -> None:
    schema = load_schema("tacred")
    documents = [d for d in read_documents(NEWS) if isinstance(d, Document)]
    pairs = [p.instance for p in candidate_pairs(documents[0], schema)]  # PERSON, CITY, ORGANIZATION
    kinds = {(p.subj.type, p.obj.type) for p in pairs}
    assert ("PERSON", "CITY") in kinds and ("PERSON", "ORGANIZATION") in kinds and ("ORGANIZATION", "PERSON") in kinds
    assert all(schema.candidates(p.type_pair) is not None for p in pairs)
    assert ("CITY", "PERSON") not in kinds  # no TACRED relation has a CITY subject
    everything = candidate_pairs(documents[0], schema, constraints=False)
    assert len(everything) == 6 and len(candidate_pairs(documents[0], schema, max_pairs=1)) == 1


def test_overlapping_mentions_never_pair_and_limits_apply() -> None:
    document = Document("d", "New York City", (Entity(0, 8, "CITY"), Entity(0, 13, "CITY"), Entity(4, 13, "CITY")), "x", 1)
    assert candidate_pairs(document, load_schema("tacred"), constraints=False) == []
    assert candidate_pairs(document, load_schema("tacred"), constraints=False, max_entities=1) == []


def test_bad_lines_become_error_records_naming_file_line_and_field() -> None:
    errors = [d for d in read_documents(NEWS) if isinstance(d, ErrorRecord)]
    assert [(e.line, e.field) for e in errors] == [(4, "entities[0]"), (5, None)]
    assert "news_docs.jsonl:4: entities[0]: span [0, 99) is outside the text" in errors[0].message


@pytest.mark.model
def test_extract_writes_triples_with_offsets_into_the_text(tmp_path: Path) -> None:
    out, table = tmp_path / "triples.jsonl", tmp_path / "triples.csv"
    result = qa4re("extract", "--schema", "tacred", "--input", NEWS, "--output", out, "--csv", table, "--include-na", "--cache", tmp_path / "c.sqlite")
    records = read_jsonl(out)
    texts = {json.loads(line)["id"]: json.loads(line)["text"] for line in NEWS.read_text().splitlines()[:3]}
    triples = [r for r in records if "relation" in r]
    errors = [r for r in records if "error" in r]
    assert len(errors) == 2 and {e["line"] for e in errors} == {4, 5}
    assert triples and "3 documents" in result.stderr
    schema = load_schema("tacred")
    for t in triples:
        text = texts[t["doc_id"]]
        for role in ("subject", "object"):
            assert text[t[role]["start"] : t[role]["end"]] == t[role]["text"]
        assert t["relation"] in schema.relations and 0.0 < t["confidence"] <= 1.0 and t["evidence"] == text
    rows = list(csv.DictReader(table.open()))
    assert list(rows[0]) == ["doc_id", "subject", "subject_start", "subject_end", "subject_type", "relation", "object", "object_start", "object_end",
                             "object_type", "confidence", "evidence"]  # fmt: skip
    assert len(rows) == len(triples) and rows[0]["subject"] == triples[0]["subject"]["text"]
    qa4re("extract", "--schema", "tacred", "--input", NEWS, "--output", tmp_path / "strict.jsonl", "--threshold", "0.99", "--cache", tmp_path / "c.sqlite")
    strict = [r for r in read_jsonl(tmp_path / "strict.jsonl") if "relation" in r]
    assert all(r["confidence"] >= 0.99 and r["relation"] != "no_relation" for r in strict)


def test_a_record_without_entities_needs_a_detector() -> None:
    with pytest.raises(DataError, match=r"docs.jsonl:7: entities: missing \(give the spans, or --ner MODEL"):
        parse_document({"text": "Anna lives in Oslo."}, "docs.jsonl", 7)
    assert parse_document({"text": "Anna lives in Oslo."}, "docs.jsonl", 7, entities_optional=True).needs_entities


class _FailsOnApple(FakeBackend):
    """Plumbing only: every prompt that mentions [Apple] fails as a request of its own."""

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        scored = super().score_options(requests)
        return [OptionScores(s.logprobs, error="HTTP 500") if "[Apple]" in r.prompt else s for r, s in zip(requests, scored, strict=True)]


def test_document_extractor_keeps_input_order_and_reports_failed_pairs_in_one_form() -> None:
    documents = DocumentExtractor(Extractor(load_schema("tacred"), _FailsOnApple()), DocumentSettings(include_na=True), chunk=2)
    results = list(documents.extract(read_documents(NEWS)))
    assert [r.line if isinstance(r, ErrorRecord) else r.document.line for r in results] == [1, 2, 3, 4, 5]
    scored = [r for r in results if isinstance(r, DocumentResult)]
    failed = [e for r in scored for e in r.errors]
    assert failed and all("Apple" in (e.subject.text, e.object.text) for e in failed)
    assert all(r.pairs == len(r.triples) + len(r.errors) for r in scored)  # include_na, threshold 0: every scored pair is a triple
    record = failed[0].to_json()
    assert record["relation"] is None and record["error"] == "model call failed: HTTP 500" and record["kind"] == "model"
    assert set(record) - {"error", "kind"} == set(scored[0].triples[0].to_json())


def test_each_document_is_yielded_once_its_pairs_are_scored_so_progress_is_honest() -> None:
    backend = FakeBackend()
    documents = DocumentExtractor(Extractor(load_schema("tacred"), backend), DocumentSettings(include_na=True), chunk=1)
    seen = []
    for result in documents.extract(read_documents(NEWS)):
        if isinstance(result, DocumentResult):
            seen.append((result.pairs, len(backend.history)))
    # Every yielded document's pairs were already scored, and no later document's pairs had been sent.
    assert [calls for _, calls in seen] == list(itertools.accumulate(pairs for pairs, _ in seen))
