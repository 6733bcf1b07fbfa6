"""The generic JSONL format: one example per line, character spans into ``text``.

    {"id": "doc1-0", "text": "Marie Curie was born in Warsaw.",
     "subj": {"start": 0, "end": 11, "type": "PERSON"},
     "obj": {"start": 24, "end": 30, "type": "CITY"},
     "relation": "per:city_of_birth"}

``end`` is exclusive. ``type`` and ``relation`` are optional (no type: the type constraints
cannot apply; no relation: unlabelled data for ``qa4re predict``). An optional ``text`` inside
``subj``/``obj`` must equal the spanned text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa4re.datasets.base import Dataset, OnError, finished_instance, json_object, require
from qa4re.datasets.tacred import read_json_dataset
from qa4re.errors import DataError
from qa4re.types import Entity, Item, RelationInstance


def _entity(record: dict[str, Any], role: str, text: str, source: str, line: int) -> Entity:
    raw = require(record, role, dict, source, line)
    start = require(raw, "start", int, source, line, f"{role}.")
    end = require(raw, "end", int, source, line, f"{role}.")
    kind = raw.get("type")
    if kind is not None and not isinstance(kind, str):
        raise DataError(source, line, f"{role}.type", f"expected str, got {type(kind).__name__}")
    mention = raw.get("text")
    if mention is not None and 0 <= start < end <= len(text) and text[start:end] != mention:
        raise DataError(source, line, f"{role}.text", f"{mention!r} does not match the span text {text[start:end]!r}")
    return Entity(start, end, kind or None)


def jsonl_instance(record: Any, source: str, line: int) -> RelationInstance:
    """Validate one generic JSONL record."""
    record = json_object(record, source, line)
    text = require(record, "text", str, source, line)
    subj, obj = _entity(record, "subj", text, source, line), _entity(record, "obj", text, source, line)
    return finished_instance(record, text, subj, obj, source, line, ("subj", "obj"))


def read_jsonl(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream the examples of one generic JSONL file."""
    return read_json_dataset(path, jsonl_instance, on_error)


JSONL = Dataset("jsonl", read_jsonl)
