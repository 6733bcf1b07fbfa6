"""WebRED 5 (Ormandi et al. 2021): web sentences, one candidate relation per example, no entity types.

Records as ``webred5_sentence_re.jsonl`` in ``../shared/data/webred`` (made by its
``convert_webred.py``): ``text``, ``head`` and ``tail`` with ``char_span`` [start, end),
``label`` (the candidate relation when most raters accepted it, else ``no_relation``).

WebRED 5 ships as one file. Its ``dev`` and ``test`` splits here are a fixed partition by a
hash of the example id: ``dev`` holds about 30 %, ``test`` the rest; ``train`` is an alias of
``dev`` (demonstrations for few-shot runs; WebRED 5 has no training split); ``all`` reads everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa4re.datasets.base import Dataset, OnError, RecordParser, check_spans, guarded, hash_fraction, json_lines, json_object, require
from qa4re.errors import DataError
from qa4re.types import Entity, Item, RelationInstance

FILE = "webred5_sentence_re.jsonl"
DEV_SHARE = 0.3
SPLITS = ("dev", "test", "train", "all")


def split_of(identifier: str) -> str:
    """``dev`` or ``test``: a fixed partition by a hash of the example id."""
    return "dev" if hash_fraction(identifier) < DEV_SHARE else "test"


def webred_instance(record: Any, source: str, line: int) -> RelationInstance:
    """Validate one WebRED record (entities have no type)."""
    record = json_object(record, source, line)
    text = require(record, "text", str, source, line)

    def entity(role: str) -> Entity:
        raw = require(record, role, dict, source, line)
        span = require(raw, "char_span", list, source, line, f"{role}.")
        if len(span) != 2 or not all(isinstance(i, int) for i in span) or not 0 <= span[0] < span[1] <= len(text):
            raise DataError(source, line, f"{role}.char_span", f"expected [start, end) inside the {len(text)} characters, got {span!r}")
        return Entity(span[0], span[1], None)

    subj, obj = entity("head"), entity("tail")
    check_spans(text, subj, obj, source, line, ("head", "tail"))
    relation = require(record, "label", str, source, line)
    return RelationInstance(str(record.get("id", f"{Path(source).name}:{line}")), text, subj, obj, relation, source)


def read_webred(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream the examples of ``split`` (``dev``, ``test`` or ``all``) of a WebRED file."""
    split = split or "all"
    if split not in SPLITS:
        raise DataError(str(path), None, None, f"WebRED has the splits {', '.join(SPLITS)}, not '{split}'")

    def wanted(record: Any) -> bool:
        wanted_split = "dev" if split == "train" else split
        return split == "all" or not isinstance(record, dict) or split_of(str(record.get("id", ""))) == wanted_split

    source = str(path)
    return guarded((RecordParser(webred_instance, record, source, line) for line, record in json_lines(path) if wanted(record)), on_error)


WEBRED = Dataset("webred", read_webred, "webred", lambda split: (FILE,))  # one file; the reader takes the split
