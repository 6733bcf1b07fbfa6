"""Blocks of a shared work folder as data, never code: typed records as JSON lines under a checksum.

A block file is a header line ``{"qa4re-block": 1, "records": N, "sha256": ...}`` followed by one
JSON line per record, ``{"type": "<record type>", "data": {...}}``. Only the record types below are
read, each rebuilt field by field from its type hints, so a file in the folder can describe data
and nothing else. A file that is truncated, altered, of another format or names another type is
refused with one line naming it (:class:`BlockError`), and the caller recomputes the block.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Iterable
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from qa4re.errors import Qa4reError
from qa4re.extract.documents import DocumentResult, Mention, PairError, Triple
from qa4re.extract.pairs import Document
from qa4re.types import Entity, ErrorRecord, Prediction, RelationInstance

FORMAT = 1
RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (RelationInstance, Entity, ErrorRecord, Prediction, Document, DocumentResult, Triple, Mention, PairError)
}


class BlockError(Qa4reError):
    """A block file that is not a valid block (the caller recomputes it)."""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__, "data": {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _rebuilt(kind: Any, value: Any, where: str) -> Any:
    """``value`` (plain JSON) as ``kind``; anything else is a BlockError."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        failures = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _rebuilt(option, value, where)
            except BlockError as exc:
                failures.append(str(exc))
        raise BlockError(failures[0] if failures else f"{where}: unexpected null")
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return record(value, where, kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(value)
        except ValueError:
            raise BlockError(f"{where}: {value!r} is no {kind.__name__}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise BlockError(f"{where}: expected a list")
        element = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if element is None and len(args) != len(value):
            raise BlockError(f"{where}: expected {len(args)} items")
        return tuple(_rebuilt(element if element is not None else args[i], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise BlockError(f"{where}: expected an object")
        return {str(k): _rebuilt(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in (str, int, bool) and type(value) is kind:
        return value
    raise BlockError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")


def record(value: Any, where: str, expected: type | None = None) -> Any:
    """A typed record from its plain form ``{"type": ..., "data": {...}}``; only the known record types."""
    if not isinstance(value, dict) or set(value) != {"type", "data"} or not isinstance(value["data"], dict):
        raise BlockError(f"{where}: not a record")
    cls = RECORD_TYPES.get(str(value["type"]))
    if cls is None or expected is not None and cls is not expected:
        raise BlockError(f"{where}: unknown record type {value['type']!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    data = value["data"]
    if not set(data) <= set(fields):
        raise BlockError(f"{where}: unknown fields {sorted(set(data) - set(fields))}")
    hints = _hints(cls)
    try:
        return cls(**{name: _rebuilt(hints[name], v, f"{where}.{name}") for name, v in data.items()})
    except TypeError as exc:  # a required field missing
        raise BlockError(f"{where}: {exc}") from None


def encode(records: Iterable[Any], meta: dict[str, Any] | None = None) -> bytes:
    """Records (and a small plain ``meta`` mapping) as block bytes."""
    lines = [json.dumps(_plain(r), ensure_ascii=False, sort_keys=True) for r in records]
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    header = {"qa4re-block": FORMAT, "records": len(lines), "sha256": hashlib.sha256(body).hexdigest(), "meta": meta or {}}
    return json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + body


def decode(data: bytes, source: Path | str) -> tuple[list[Any], dict[str, Any]]:
    """The records and ``meta`` of block bytes read from ``source``; a bad block is a BlockError naming it."""
    header_line, _, body = data.partition(b"\n")
    try:
        header = json.loads(header_line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BlockError(f"{source}: not a qa4re block (no header); it is recomputed") from None
    if not isinstance(header, dict) or header.get("qa4re-block") != FORMAT:
        raise BlockError(f"{source}: not a qa4re block of format {FORMAT}; it is recomputed")
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise BlockError(f"{source}: checksum mismatch (truncated or altered); it is recomputed")
    lines = body.decode("utf-8").splitlines()
    if len(lines) != header.get("records"):
        raise BlockError(f"{source}: {len(lines)} records where the header says {header.get('records')}; it is recomputed")
    try:
        records = [record(json.loads(line), f"{source}: record {k + 1}") for k, line in enumerate(lines)]
    except json.JSONDecodeError as exc:
        raise BlockError(f"{source}: a record is not JSON ({exc.msg}); it is recomputed") from None
    meta = header.get("meta")
    return records, meta if isinstance(meta, dict) else {}
