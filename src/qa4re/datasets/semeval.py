"""SemEval-2010 Task 8 files (TRAIN_FILE.TXT, TEST_FILE_FULL.TXT).

Each example is four lines: ``id<TAB>"sentence with <e1>..</e1> and <e2>..</e2>"``, the label,
``Comment: ...``, and a blank line. Subject = e1, object = e2; both typed MISC (no entity types).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from qa4re.datasets.base import Dataset, OnError, check_spans, guarded
from qa4re.errors import DataError
from qa4re.types import Entity, Item, RelationInstance

SPLIT_FILES = {"train": "TRAIN_FILE.TXT", "test": "TEST_FILE_FULL.TXT"}
ENTITY_TYPE = "MISC"
_TAG = re.compile(r"</?e[12]>")


def parse_marked_sentence(marked: str, path: str, line: int) -> tuple[str, Entity, Entity]:
    """Strip ``<e1>``/``<e2>`` tags; return the plain text and the two spans."""
    text_parts: list[str] = []
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    cursor = 0
    length = 0
    for match in _TAG.finditer(marked):
        text_parts.append(marked[cursor : match.start()])
        length += match.start() - cursor
        tag = match.group()
        name = tag.strip("</>")
        target = ends if tag.startswith("</") else starts
        if name in target:
            raise DataError(path, line, "sentence", f"tag {tag} appears twice")
        target[name] = length
        cursor = match.end()
    text_parts.append(marked[cursor:])
    for name in ("e1", "e2"):
        if name not in starts or name not in ends:
            raise DataError(path, line, "sentence", f"missing <{name}>...</{name}>")
    text = "".join(text_parts)
    subj, obj = (Entity(starts[n], ends[n], ENTITY_TYPE) for n in ("e1", "e2"))
    check_spans(text, subj, obj, path, line, ("e1", "e2"))
    return text, subj, obj


def _blocks(path: Path) -> Iterator[tuple[int, list[str], str | None]]:
    """``(first line, lines, problem)`` per blank-line separated block; ``problem``: why the block cannot be read (a line not UTF-8)."""
    block: list[str] = []
    start, problem = 0, None
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n") or "?"
                    problem = problem or f"line {number} is not valid UTF-8 (byte {exc.start + 1})"
                if line.strip():
                    if not block:
                        start = number
                    block.append(line)
                elif block:
                    yield start, block, problem
                    block, problem = [], None
    except OSError as exc:
        raise DataError(str(path), None, None, f"cannot read: {exc}") from None
    if block:
        yield start, block, problem


def _parse(source: str, line: int, block: list[str], problem: str | None = None) -> RelationInstance:
    if problem is not None:
        raise DataError(source, line, None, problem)
    head, _, marked = block[0].partition("\t")
    if not marked:
        raise DataError(source, line, "id", "expected '<id><TAB>\"<sentence>\"'")
    marked = marked.strip()
    if len(marked) >= 2 and marked[0] == marked[-1] == '"':
        marked = marked[1:-1]
    text, subj, obj = parse_marked_sentence(marked, source, line)
    relation = block[1].strip() if len(block) > 1 and not block[1].startswith("Comment:") else None
    return RelationInstance(head.strip(), text, subj, obj, relation, source)


def read_semeval(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream the examples of one SemEval-2010 Task 8 file."""
    source = str(path)

    def parsers() -> Iterator[Callable[[], RelationInstance]]:
        for line, block, problem in _blocks(path):
            yield partial(_parse, source, line, block, problem)

    return guarded(parsers(), on_error)


SEMEVAL = Dataset("semeval", read_semeval, "semeval", lambda split: (SPLIT_FILES.get(split, split),), official_scorer=True)
