"""TACRED-format JSON (TACRED, TACREV, Re-TACRED; users bring their own licensed files).

A file is a JSON array (or JSON lines) of objects with ``id``, ``token`` (list of strings),
``subj_start``/``subj_end``/``obj_start``/``obj_end`` (token offsets, end inclusive),
``subj_type``, ``obj_type`` and ``relation``. The sentence is the space-joined tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qa4re.datasets.base import Dataset, OnError, RecordParser, finished_instance, guarded, json_object, require, token_sentence
from qa4re.errors import DataError
from qa4re.types import Entity, Item, RelationInstance

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


def iter_json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for each element of a JSON array file or each JSON line.

    Malformed JSON is a DataError at the line where decoding failed.
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(source, None, None, f"cannot read: {exc.strerror or exc}") from None
    if data.lstrip()[:1] == b"[":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(source, data[: exc.start].count(b"\n") + 1, None, f"not valid UTF-8 (byte {exc.start + 1} of the file)") from None
        yield from _array_elements(text, len(text) - len(text.lstrip(_WHITESPACE)) + 1, source)
        return
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # one bad line is one bad record, not a refused file
            yield number, DataError(source, number, None, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
            continue
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, DataError(source, number, None, f"invalid JSON: {exc.msg} (column {exc.colno})")


def _array_elements(text: str, pos: int, source: str) -> Iterator[tuple[int, Any]]:
    line, counted = 1, 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE + ",":
            pos += 1
        line += text.count("\n", counted, pos)
        counted = pos
        if pos >= len(text):
            raise DataError(source, line, None, "invalid JSON: unterminated array")
        if text[pos] == "]":
            return
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(source, exc.lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        yield line, value
        pos = end


def tacred_instance(record: Any, source: str, line: int) -> RelationInstance:
    """Validate one TACRED-format record and convert token offsets to character spans."""
    record = json_object(record, source, line)
    tokens, text, starts = token_sentence(record, "token", source, line)

    def entity(role: str) -> Entity:
        first = require(record, f"{role}_start", int, source, line)
        last = require(record, f"{role}_end", int, source, line)
        kind = require(record, f"{role}_type", str, source, line)
        if not 0 <= first <= last < len(tokens):
            raise DataError(source, line, f"{role}_start", f"token span [{first}, {last}] is outside the sentence ({len(tokens)} tokens)")
        return Entity(starts[first], starts[last] + len(tokens[last]), kind)

    return finished_instance(record, text, entity("subj"), entity("obj"), source, line, ("subj_start", "obj_start"))


def read_json_dataset(path: Path, parse: Callable[[Any, str, int], RelationInstance], on_error: OnError) -> Iterator[Item]:
    """Stream the records of a JSON array / JSON lines file through ``parse``."""
    source = str(path)

    def parsers() -> Iterator[Callable[[], RelationInstance]]:
        for line, record in iter_json_records(path):
            yield RecordParser(parse, record, source, line)

    return guarded(parsers(), on_error)


def read_tacred(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream the examples of one TACRED-format file."""
    return read_json_dataset(path, tacred_instance, on_error)


TACRED = Dataset("tacred", read_tacred, "tacred")
TACREV = Dataset("tacrev", read_tacred, "tacrev")
RETACRED = Dataset("retacred", read_tacred, "retacred")
