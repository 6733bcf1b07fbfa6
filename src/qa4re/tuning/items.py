"""Multiple-choice items for tuning, and the registry of their sources.

An item is a question, its option texts (in their own order, without letters) and the index of
the right one. A source turns a spec (a path, or whatever it documents) into items; a bad record
becomes an :class:`~qa4re.types.ErrorRecord` at ``file:line`` and the rest are still read.
Sources are registered by name (``qa4re.item_sources`` entry points add more)::

    [project.entry-points."qa4re.item_sources"]
    my-items = "my_package.items:read_my_items"

A source is a callable ``(spec, split, exclude) -> Iterator[MCItem | ErrorRecord]``; ``split`` is
``train`` for training and ``heldout`` for the held-out measurement; ``exclude`` names relations
the run must not see (``--exclude-relations-of``): a source of relation items leaves them out of
its options, and says which relations each item shows in ``MCItem.relations`` (a run refuses an
item that shows an excluded one, whichever source made it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa4re.datasets.base import json_object
from qa4re.errors import ConfigError, DataError
from qa4re.registry import Registry
from qa4re.types import ErrorRecord


@dataclass(frozen=True, slots=True)
class MCItem:
    """One multiple-choice question: ``options[answer]`` is right."""

    id: str
    question: str
    options: tuple[str, ...]
    answer: int
    source: str = ""
    relations: tuple[str, ...] = ()  # the relations the item's options express (relation items only)
    prompt: str | None = None  # a prompt already rendered with these options lettered in order (QA4RE-format items): shown as it is


ItemSource = Callable[[str, str, frozenset[str]], Iterator["MCItem | ErrorRecord"]]

ITEM_SOURCES: Registry[ItemSource] = Registry(
    "item source",
    "qa4re.item_sources",
    {
        "mcqa": "qa4re.tuning.sources.mcqa:read_mcqa",
        "binding": "qa4re.tuning.sources.binding:read_binding",
        "qa4re": "qa4re.tuning.sources.qa4re:read_qa4re",
    },
)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """``NAME:SPEC`` from the command line (``mcqa:../shared/data/mcqa/mcqa.jsonl``); a bare path is ``mcqa``."""

    name: str
    spec: str

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        name, colon, rest = text.partition(":")
        if not colon or Path(text).exists():
            return cls("mcqa", text)
        ITEM_SOURCES.check(name)
        return cls(name, rest)

    def __str__(self) -> str:
        return f"{self.name}:{self.spec}"


def read_items(specs: Sequence[SourceSpec], split: str, exclude: frozenset[str] = frozenset()) -> tuple[list[list[MCItem]], list[ErrorRecord]]:
    """The items of each source (one list per source, in file order) and every bad record."""
    per_source: list[list[MCItem]] = []
    errors: list[ErrorRecord] = []
    for spec in specs:
        items: list[MCItem] = []
        for record in ITEM_SOURCES.get(spec.name)(spec.spec, split, exclude):
            (items if isinstance(record, MCItem) else errors).append(record)  # type: ignore[arg-type]
        per_source.append(items)
    return per_source, errors


def item_from_record(record: Any, path: str, line: int) -> MCItem:
    """A ``{"question", "options", "answer"}`` JSON object as an item; anything else is DataError at its field."""
    record = json_object(record, path, line)
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(path, line, "question", "missing" if question is None else "expected a non-empty string")
    options = record.get("options")
    if not isinstance(options, list) or not options:
        raise DataError(path, line, "options", "missing" if options is None else "expected a non-empty list of strings")
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise DataError(path, line, "options", "expected a non-empty list of non-empty strings")
    if len(options) < 2:
        raise DataError(path, line, "options", "a multiple-choice item needs at least 2 options")
    answer = record.get("answer")
    if not isinstance(answer, int) or isinstance(answer, bool):
        raise DataError(path, line, "answer", "missing" if answer is None else f"expected an option index (int), got {answer!r}")
    if not 0 <= answer < len(options):
        raise DataError(path, line, "answer", f"{answer} is out of range for {len(options)} options")
    relations = record.get("relations", [])
    if not isinstance(relations, list) or not all(isinstance(r, str) for r in relations):
        raise DataError(path, line, "relations", "expected a list of relation names")
    identifier = record.get("id", f"{Path(path).name}:{line}")
    return MCItem(str(identifier), question.strip(), tuple(o.strip() for o in options), answer, str(record.get("source", "")), tuple(relations))


def items_digest(items: Iterable[MCItem]) -> str:
    """SHA-256 of the items' content, in order: what the card records as the data a run saw."""
    digest = hashlib.sha256()
    for item in items:
        extra = (item.relations, item.prompt) if item.relations or item.prompt is not None else ()  # older items hash as before
        digest.update(repr((item.id, item.question, item.options, item.answer, *extra)).encode("utf-8"))
    return digest.hexdigest()


def require_items(items: Sequence[MCItem], what: str) -> None:
    if not items:
        raise ConfigError(f"no {what} items: every record was missing or invalid")
