"""JSON lines of ``{"question", "options", "answer"}`` (optional ``id``, ``source``, ``split``).

A record's ``split`` (``train``/``heldout``) is respected: a record without one counts as
``train``. This is the format of the shared multiple-choice file (MMLU, ARC, CommonsenseQA, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa4re.datasets.base import json_lines
from qa4re.errors import DataError
from qa4re.tuning.items import MCItem, item_from_record
from qa4re.types import ErrorRecord


def read_mcqa(spec: str, split: str, exclude: frozenset[str] = frozenset()) -> Iterator[MCItem | ErrorRecord]:
    """The items of ``split`` in the JSON-lines file ``spec``; a bad line is an error record at its line."""
    path = Path(spec)
    if not path.is_file():
        raise DataError(spec, None, None, "is a directory, not an input file" if path.is_dir() else "no such file" if not path.exists() else "not a file")
    for line, record in json_lines(path):
        if isinstance(record, dict) and record.get("split", "train") != split:
            continue
        try:
            yield item_from_record(record, spec, line)
        except DataError as exc:
            identifier = record.get("id") if isinstance(record, dict) else None
            yield ErrorRecord(None if identifier is None else str(identifier), exc.path, exc.line, exc.field, str(exc))
