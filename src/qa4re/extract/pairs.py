"""From texts with entity mentions to candidate pairs, and from predictions back to triples.

A document is one JSONL line: ``{"id": "d1", "text": "...", "entities": [{"start": 0, "end": 11,
"type": "PERSON"}, ...]}`` (``end`` exclusive, ``type`` optional). Every ordered pair of its
mentions is a candidate, unless the schema's type constraints rule the pair out: such pairs never
reach the model.
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
from qa4re.types import Entity, ErrorRecord, Prediction, RelationInstance


@dataclass(frozen=True, slots=True)
class Document:
    """A text and its entity mentions."""

    id: str
    text: str
    entities: tuple[Entity, ...]
    source: str
    line: int


def parse_document(record: Any, source: str, line: int) -> Document:
    """Validate one document record; a problem is a DataError naming the field."""
    if not isinstance(record, dict):
        raise DataError(source, line, None, f"expected a JSON object, got {type(record).__name__}")
    text = require(record, "text", str, source, line)
    raw_entities = require(record, "entities", list, source, line)
    entities = []
    for k, raw in enumerate(raw_entities):
        where = f"entities[{k}]."
        if not isinstance(raw, dict):
            raise DataError(source, line, f"entities[{k}]", f"expected an object, got {type(raw).__name__}")
        start, end = require(raw, "start", int, source, line, where), require(raw, "end", int, source, line, where)
        if not 0 <= start < end <= len(text):
            raise DataError(source, line, f"entities[{k}]", f"span [{start}, {end}) is outside the text (length {len(text)}) or empty")
        kind = raw.get("type")
        if kind is not None and not isinstance(kind, str):
            raise DataError(source, line, f"{where}type", f"expected str, got {type(kind).__name__}")
        entities.append(Entity(start, end, kind or None))
    return Document(str(record.get("id", f"{Path(source).name}:{line}")), text, tuple(entities), source, line)


def read_documents(path: Path) -> Iterator[Document | ErrorRecord]:
    """Stream the documents of a JSONL file; an invalid line becomes an ErrorRecord (never lost)."""
    source = str(path)
    with path.open(encoding="utf-8") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise DataError(source, number, None, f"invalid JSON: {exc.msg}") from None
                yield parse_document(record, source, number)
            except DataError as exc:
                yield ErrorRecord(None, source, number, exc.field, str(exc))


def candidate_pairs(
    document: Document, schema: RelationSchema, *, use_constraints: bool = True, max_entities: int = 20, max_pairs: int = 200
) -> list[RelationInstance]:
    """Ordered pairs of distinct, non-overlapping mentions whose type pair the schema allows.

    Only the first ``max_entities`` mentions (in text order) and the first ``max_pairs`` allowed
    pairs are kept. Pairs whose types are unknown are kept only when the schema has no constraints.
    """
    mentions = sorted(set(document.entities), key=lambda e: (e.start, e.end))[:max_entities]
    pairs = []
    for subj, obj in itertools.permutations(mentions, 2):
        if subj.start < obj.end and obj.start < subj.end:
            continue
        instance = RelationInstance(f"{document.id}:{subj.start}-{subj.end}:{obj.start}-{obj.end}", document.text, subj, obj, None, document.source)
        if schema.candidates(instance.type_pair, use_constraints) is None:
            continue
        pairs.append(instance)
        if len(pairs) == max_pairs:
            break
    return pairs


def mention_json(text: str, entity: Entity) -> dict[str, Any]:
    return {"text": text[entity.start : entity.end], "start": entity.start, "end": entity.end, "type": entity.type}


def triple(document_id: str, instance: RelationInstance, prediction: Prediction) -> dict[str, Any]:
    """One output triple with character offsets into the document text."""
    return {
        "doc_id": document_id,
        "subject": mention_json(instance.text, instance.subj),
        "relation": prediction.relation,
        "object": mention_json(instance.text, instance.obj),
        "confidence": prediction.confidence,
        "evidence": instance.text,
    }
