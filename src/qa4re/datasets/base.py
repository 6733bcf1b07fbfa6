"""Shared pieces of the dataset readers: validation helpers, error policy, sampling."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from qa4re.errors import DataError
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, ErrorRecord, Item, RelationInstance


class OnError(str, Enum):
    """What a reader does with an invalid record."""

    STOP = "stop"  # raise DataError (file:line: field: reason)
    SKIP = "skip"  # yield an ErrorRecord, which ends up in the output and the error count


Reader = Callable[[Path, OnError, "str | None"], Iterator[Item]]  # (file, policy, split) -> items; the split matters where one file holds several


def split_json(split: str) -> tuple[str, ...]:
    """The usual file names of a split in a dataset folder."""
    return (f"{split}.json", f"{split}.jsonl")


@dataclass(frozen=True)
class Dataset:
    """One dataset's facts: its reader, built-in schema, split files and extra metrics.

    A dataset is one module holding one (or a few) of these, registered by name in
    :data:`qa4re.datasets.DATASETS` (or through the entry-point group ``qa4re.datasets``).
    """

    name: str
    read: Reader
    schema: str | None = None  # the built-in schema of its relations (None: the run names one)
    split_files: Callable[[str], tuple[str, ...]] = split_json  # a split's file names inside a dataset folder
    official_scorer: bool = False  # SemEval-2010 Task 8's official macro-F1 (9 relations, direction ignored) is reported too
    schema_for: Callable[[Path, str, str | None], RelationSchema] | None = None  # (file, split, template set) -> the schema its data defines

    def file(self, data: Path, split: str) -> Path:
        """The file of ``split``: ``data`` itself when it is a file, else the split's file inside it."""
        if data.is_file():
            return data
        if not data.is_dir():
            raise DataError(str(data), None, None, "no such file or directory")
        names = self.split_files(split)
        for name in names:
            if (data / name).is_file():
                return data / name
        raise DataError(str(data), None, None, f"no file for split '{split}' (looked for {', '.join(names)})")


@dataclass(frozen=True, slots=True)
class RecordParser:
    """The parse of one JSON record, deferred; an error record made from it keeps the record's id."""

    parse: Callable[[Any, str, int], RelationInstance]
    record: Any
    source: str
    line: int
    identifier: str | None = None  # the record's id where the record itself carries none

    def __call__(self) -> RelationInstance:
        return self.parse(self.record, self.source, self.line)

    @property
    def record_id(self) -> str | None:
        if self.identifier is not None:
            return self.identifier
        return str(self.record["id"]) if isinstance(self.record, dict) and self.record.get("id") is not None else None


def guarded(records: Iterable[Callable[[], RelationInstance]], on_error: OnError) -> Iterator[Item]:
    """Run each record's parser; turn DataError into an ErrorRecord (keeping the record's id) or stop, by policy."""
    for parse in records:
        try:
            yield parse()
        except DataError as exc:
            if on_error is OnError.STOP:
                raise
            identifier = parse.record_id if isinstance(parse, RecordParser) else None
            yield ErrorRecord(identifier, exc.path, exc.line, exc.field, str(exc))


def require(record: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str, line: int | None, prefix: str = "") -> Any:
    """``record[key]`` checked for presence and type, else a DataError naming the field."""
    name = f"{prefix}{key}"
    if key not in record:
        raise DataError(path, line, name, "missing")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(path, line, name, f"expected {expected}, got {type(value).__name__}")
    return value


def token_sentence(record: dict[str, Any], key: str, path: str, line: int | None, prefix: str = "") -> tuple[list[str], str, list[int]]:
    """The tokens under ``key``, the sentence (space-joined tokens) and each token's character start."""
    tokens = require(record, key, list, path, line, prefix)
    if not tokens or not all(isinstance(t, str) for t in tokens):
        raise DataError(path, line, f"{prefix}{key}", "expected a non-empty list of strings")
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return tokens, " ".join(tokens), starts


def check_spans(text: str, subj: Entity, obj: Entity, path: str, line: int | None, names: tuple[str, str] = ("subj", "obj")) -> None:
    """Spans must lie inside ``text``, be non-empty, and not overlap."""
    for entity, name in zip((subj, obj), names, strict=True):
        if not 0 <= entity.start < entity.end <= len(text):
            raise DataError(path, line, name, f"span [{entity.start}, {entity.end}) is outside the text (length {len(text)}) or empty")
    if subj.start < obj.end and obj.start < subj.end:
        raise DataError(path, line, names[1], f"span [{obj.start}, {obj.end}) overlaps the subject span [{subj.start}, {subj.end})")


def json_object(record: Any, path: str, line: int) -> dict[str, Any]:
    """``record`` as a JSON object; a decoding error or a non-object is a DataError."""
    if isinstance(record, DataError):
        raise record
    if not isinstance(record, dict):
        raise DataError(path, line, None, f"expected a JSON object, got {type(record).__name__}")
    return record


def finished_instance(record: dict[str, Any], text: str, subj: Entity, obj: Entity, path: str, line: int, span_fields: tuple[str, str]) -> RelationInstance:
    """Check the spans, the optional ``relation`` and ``id`` of a JSON record; build the instance."""
    check_spans(text, subj, obj, path, line, span_fields)
    relation = record.get("relation")
    if relation is not None and not isinstance(relation, str):
        raise DataError(path, line, "relation", f"expected str, got {type(relation).__name__}")
    identifier = record.get("id", f"{Path(path).name}:{line}")
    return RelationInstance(str(identifier), text, subj, obj, relation, path)


def sample_positions(total: int, limit: int | None, seed: int) -> set[int] | None:
    """Positions of a seeded random sample of ``limit`` out of ``total`` (None: take all)."""
    if limit is None or limit >= total:
        return None
    return set(random.Random(seed).sample(range(total), limit))


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each JSON line of a file (gzip when it ends in .gz); a line that is not UTF-8
    or not JSON is a DataError value at its line (one bad line is one bad record, not a refused file)."""
    source = str(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield number, DataError(source, number, None, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
                    continue
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, DataError(source, number, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except (OSError, EOFError) as exc:
        raise DataError(source, None, None, f"cannot read: {exc}") from None


def hash_fraction(identifier: str) -> float:
    """A fixed number in [0, 1) for ``identifier``: samples and splits that never depend on file order."""
    return int(hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:12], 16) / 16**12
