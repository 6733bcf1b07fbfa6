"""From texts with entity mentions to candidate pairs (:mod:`qa4re.extract.documents` scores them).

A document is one JSONL line: ``{"id": "d1", "text": "...", "entities": [{"start": 0, "end": 11,
"type": "PERSON"}, ...], "sentences": [[0, 40], ...]}`` (``end`` exclusive, ``type`` and
``sentences`` optional; without ``entities`` an entity detector must fill them in, see
:mod:`qa4re.extract.ner`). Every ordered pair of mentions inside one sentence is a candidate,
unless the schema's type constraints rule the pair out: such pairs never reach the model.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa4re.datasets.base import require
from qa4re.errors import DataError
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, ErrorRecord, RelationInstance


@dataclass(frozen=True, slots=True)
class Document:
    """A text and its entity mentions."""

    id: str
    text: str
    entities: tuple[Entity, ...]
    source: str
    line: int
    sentences: tuple[tuple[int, int], ...] = ()  # character spans; empty: the whole text is one
    needs_entities: bool = False  # no entities given: an entity detector has to find them


@dataclass(frozen=True, slots=True)
class Pair:
    """A candidate pair: the instance holds its sentence, ``offset`` where that sentence starts."""

    document_id: str
    offset: int
    instance: RelationInstance


def _span(raw: Any, where: str, text: str, source: str, line: int) -> tuple[int, int]:
    if isinstance(raw, dict):
        start, end = require(raw, "start", int, source, line, f"{where}."), require(raw, "end", int, source, line, f"{where}.")
    elif isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        start, end = raw
    else:
        raise DataError(source, line, where, f"expected an object with start and end, got {type(raw).__name__}")
    if not 0 <= start < end <= len(text):
        raise DataError(source, line, where, f"span [{start}, {end}) is outside the text (length {len(text)}) or empty")
    return start, end


def _entity(raw: Any, where: str, text: str, source: str, line: int) -> Entity:
    if not isinstance(raw, dict):
        raise DataError(source, line, where, f"expected an object, got {type(raw).__name__}")
    start, end = _span(raw, where, text, source, line)
    kind = raw.get("type")
    if kind is not None and not isinstance(kind, str):
        raise DataError(source, line, f"{where}.type", f"expected str, got {type(kind).__name__}")
    return Entity(start, end, kind or None)


def parse_document(record: Any, source: str, line: int, *, entities_optional: bool = False) -> Document:
    """Validate one document record; a problem is a DataError naming the field.

    With ``entities_optional``, a record without ``entities`` is kept for an entity detector.
    """
    if not isinstance(record, dict):
        raise DataError(source, line, None, f"expected a JSON object, got {type(record).__name__}")
    text = require(record, "text", str, source, line)
    document_id = str(record.get("id", f"{Path(source).name}:{line}"))
    sentences: tuple[tuple[int, int], ...] = ()
    if "sentences" in record:
        sentences = tuple(_span(raw, f"sentences[{k}]", text, source, line) for k, raw in enumerate(require(record, "sentences", list, source, line)))
    if "entities" not in record and entities_optional:
        return Document(document_id, text, (), source, line, sentences, needs_entities=True)
    if "entities" not in record:
        raise DataError(source, line, "entities", "missing (give the spans, or --ner MODEL to detect them)")
    entities = [_entity(raw, f"entities[{k}]", text, source, line) for k, raw in enumerate(require(record, "entities", list, source, line))]
    return Document(document_id, text, tuple(entities), source, line, sentences)


def read_documents(path: Path, *, entities_optional: bool = False) -> Iterator[Document | ErrorRecord]:
    """Stream the documents of a file; an invalid line becomes an ErrorRecord (never lost).

    ``.jsonl``: one document per line. ``.txt``: one document per non-empty line, plain text whose
    entities an entity detector finds (so ``entities_optional`` must be on).
    """
    source = str(path)
    plain = path.suffix == ".txt"
    with path.open("rb") as lines:
        for number, raw_bytes in enumerate(lines, start=1):
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:  # one bad line is one error record, not a refused file
                yield ErrorRecord(None, source, number, None, f"{source}:{number}: not valid UTF-8 (byte {exc.start + 1} of the line)")
                continue
            if not raw.strip():
                continue
            try:
                if plain:
                    if not entities_optional:
                        raise DataError(source, number, "entities", "plain text has no entity spans: give --ner MODEL to detect them")
                    yield Document(f"{path.name}:{number}", raw.rstrip("\r\n"), (), source, number, needs_entities=True)
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise DataError(source, number, None, f"invalid JSON: {exc.msg}") from None
                yield parse_document(record, source, number, entities_optional=entities_optional)
            except DataError as exc:
                yield ErrorRecord(None, source, number, exc.field, str(exc))


def _shifted(entity: Entity, by: int) -> Entity:
    return Entity(entity.start - by, entity.end - by, entity.type)


def dropped_mentions(document: Document, max_entities: int) -> int:
    """Mentions that :func:`candidate_pairs` leaves out because their sentence holds more than ``max_entities``."""
    mentions = sorted(set(document.entities), key=lambda e: (e.start, e.end))
    spans = document.sentences or ((0, len(document.text)),)
    return sum(max(0, sum(start <= m.start and m.end <= end for m in mentions) - max_entities) for start, end in spans)


def candidate_pairs(document: Document, schema: RelationSchema, *, constraints: bool = True, max_entities: int = 20, max_pairs: int = 200) -> list[Pair]:
    """Ordered pairs of distinct, non-overlapping mentions of one sentence whose type pair the schema allows.

    Each pair's instance holds its sentence as the text (the evidence the model reads). Only the
    first ``max_entities`` mentions of each sentence (in text order) and the first ``max_pairs``
    allowed pairs of the document are kept. Pairs whose types are unknown are kept only when the
    schema has no constraints.
    """
    pairs: list[Pair] = []
    mentions = sorted(set(document.entities), key=lambda e: (e.start, e.end))
    for start, end in document.sentences or ((0, len(document.text)),):
        inside = [m for m in mentions if start <= m.start and m.end <= end][:max_entities]
        sentence = document.text[start:end]
        for subj, obj in itertools.permutations(inside, 2):
            if subj.start < obj.end and obj.start < subj.end:
                continue
            pair_id = f"{document.id}:{subj.start}-{subj.end}:{obj.start}-{obj.end}"
            instance = RelationInstance(pair_id, sentence, _shifted(subj, start), _shifted(obj, start), None, document.source)
            if schema.candidates(instance.type_pair, constraints) is None:
                continue
            pairs.append(Pair(document.id, start, instance))
            if len(pairs) == max_pairs:
                return pairs
    return pairs
