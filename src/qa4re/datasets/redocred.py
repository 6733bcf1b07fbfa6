"""Re-DocRED at sentence level (``../shared/data/redocred/*_sentence_re.jsonl.gz``), 96 Wikidata relations.

One JSON line per (sentence, ordered entity pair): ``tokens``, ``head``/``tail`` with ``text``,
``token_span`` (``[start, end)`` in tokens) and ``type`` (PER, ORG, LOC, TIME, NUM, MISC),
``label`` (a relation name or ``no_relation``), ``labels`` (all gold relations of the pair) and
``evidence_in_sentence`` (True: the annotated evidence is this sentence; None: a triple
Re-DocRED added without evidence; False: no_relation). The sentence is the space-joined tokens;
subject = head, object = tail. Files may be gzip-compressed.

``redocred-evidence`` reads the pairs whose label can be checked in the sentence: every
evidence-verified positive, and as many no_relation pairs (a fixed hash of the pair id picks
them, so the subset never depends on a seed or on predictions).

Pairs whose two mentions overlap (nested mentions, about 0.1 % of rows) are left out: the
brackets of the QA4RE prompt cannot nest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa4re.datasets.base import Dataset, OnError, RecordParser, check_spans, guarded, hash_fraction, json_lines, json_object, require, token_sentence
from qa4re.errors import DataError
from qa4re.types import Entity, Item, RelationInstance

NA = "no_relation"


def _nested(record: Any) -> bool:
    """The head and tail token spans of ``record`` overlap (malformed records are not nested)."""
    try:
        (a, b), (c, d) = record["head"]["token_span"], record["tail"]["token_span"]
        return bool(a < d and c < b)
    except (TypeError, KeyError, ValueError):
        return False


def redocred_instance(record: Any, source: str, line: int) -> RelationInstance:
    """Validate one sentence-level Re-DocRED record."""
    record = json_object(record, source, line)
    tokens, text, starts = token_sentence(record, "tokens", source, line)

    def entity(role: str) -> Entity:
        raw = require(record, role, dict, source, line)
        span = require(raw, "token_span", list, source, line, f"{role}.")
        if len(span) != 2 or not all(isinstance(i, int) for i in span) or not 0 <= span[0] < span[1] <= len(tokens):
            raise DataError(source, line, f"{role}.token_span", f"expected [start, end) inside the {len(tokens)} tokens, got {span!r}")
        kind = require(raw, "type", str, source, line, f"{role}.")
        return Entity(starts[span[0]], starts[span[1] - 1] + len(tokens[span[1] - 1]), kind)

    subj, obj = entity("head"), entity("tail")
    check_spans(text, subj, obj, source, line, ("head", "tail"))
    relation = require(record, "label", str, source, line)
    labels = record.get("labels")
    others = tuple(str(label) for label in labels if label != relation) if isinstance(labels, list) else ()
    return RelationInstance(str(record.get("id", f"{Path(source).name}:{line}")), text, subj, obj, relation, source, others)


def read_redocred(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream every pair of one sentence-level Re-DocRED file."""
    source = str(path)
    return guarded((RecordParser(redocred_instance, record, source, line) for line, record in json_lines(path) if not _nested(record)), on_error)


def read_redocred_evidence(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Evidence-verified positives and about as many no_relation pairs (picked by a hash of their id)."""
    positives = negatives = 0
    for _, record in json_lines(path):
        if isinstance(record, dict):
            positives += record.get("evidence_in_sentence") is True
            negatives += record.get("label") == NA
    share = positives / negatives if negatives else 0.0

    def wanted(record: Any) -> bool:
        if not isinstance(record, dict):
            return True  # let the parser report it
        if record.get("label") == NA:
            return hash_fraction(str(record.get("id", ""))) < share and not _nested(record)
        return record.get("evidence_in_sentence") is True and not _nested(record)

    source = str(path)
    return guarded((RecordParser(redocred_instance, record, source, line) for line, record in json_lines(path) if wanted(record)), on_error)


def _split_files(split: str) -> tuple[str, ...]:
    return (f"{split}_sentence_re.jsonl.gz", f"{split}_sentence_re.jsonl")


REDOCRED = Dataset("redocred", read_redocred, "redocred", _split_files)
REDOCRED_EVIDENCE = Dataset("redocred-evidence", read_redocred_evidence, "redocred", _split_files)
