"""FewRel's unseen-relation benchmark (``../shared/data/fewrel``): relations no model was tuned on.

The data folder holds FewRel 1.0's validation relations (``val_wiki.json``: ``{PID: [{"tokens",
"h": [name, QID, [[token indices], ...]], "t": [...]}, ...]}``; ``h`` is the subject, ``t`` the
object; the first occurrence of each mention is used), Wikidata names and descriptions
(``pid2name.json``), the "ori" split lists with m = 5, 10, 15 unseen test relations
(``splits/fewrel_rel2id_{m}_ori.json``, RE-Matching's) and ZETT's templates
(``zett_templates.tsv``).

``fewrel-unseen-M`` reads the split's ``test`` relations, every sentence of each (3,500 / 7,000 /
10,500); its ``dev`` split is the validation relations outside the test ones (11 / 6 / 1), so that
a setting is chosen on relations disjoint from the test relations. The protocol is closed-set: the
model chooses among the split's relations only, with no NA option (the schema's ``offers_na`` is
false), scored by macro precision, recall and F1 (both conventions) and accuracy.

Template sets: ``zett`` (ZETT's hand-written templates, the default), ``names`` (derived from the
relation names by the rule of :mod:`qa4re.schemas.declared`) and ``descriptions`` (that template
followed by the Wikidata description in parentheses).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from qa4re.datasets.base import Dataset, OnError, RecordParser, check_spans, guarded, require, token_sentence
from qa4re.errors import ConfigError, DataError
from qa4re.schemas.declared import declared_schema, derived_template
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, Item, RelationInstance

FILE = "val_wiki.json"
TEMPLATE_SETS = ("zett", "names", "descriptions")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(str(path), None, None, "no such file (the FewRel folder holds val_wiki.json, pid2name.json, splits/ and zett_templates.tsv)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(str(path), None, None, f"cannot read: {exc}") from None


@cache
def _names(folder: Path) -> dict[str, tuple[str, str]]:
    """PID -> (name, description), from ``pid2name.json``."""
    raw = _read_json(folder / "pid2name.json")
    return {pid: (str(value[0]), str(value[1]) if len(value) > 1 else "") for pid, value in raw.items() if isinstance(value, list) and value}


def split_relations(folder: Path, m: int, split: str, available: Iterable[str] | None = None) -> list[str]:
    """The PIDs of ``split`` (test: the m unseen relations; dev: the validation relations outside them,
    of ``available``, by default those of the folder's ``val_wiki.json``)."""
    lists = _read_json(folder / "splits" / f"fewrel_rel2id_{m}_ori.json")
    test = sorted(lists["test"], key=lists["test"].__getitem__)
    if split == "test":
        return test
    if split == "dev":
        return [pid for pid in (available if available is not None else _read_json(folder / FILE)) if pid not in test]
    raise ConfigError(f"fewrel-unseen-{m} has the splits test and dev (dev: the validation relations outside the test ones), not '{split}'")


def _entity(record: dict[str, Any], role: str, tokens: list[str], starts: list[int], source: str, where: str) -> Entity:
    raw = require(record, role, list, source, None, where)
    if len(raw) < 3 or not isinstance(raw[2], list) or not raw[2] or not isinstance(raw[2][0], list) or not raw[2][0]:
        raise DataError(source, None, f"{where}{role}", "expected [name, id, [[token indices], ...]]")
    indices = raw[2][0]
    if not all(isinstance(i, int) and 0 <= i < len(tokens) for i in indices):
        raise DataError(source, None, f"{where}{role}", f"token indices {indices!r} outside the {len(tokens)} tokens")
    first, last = min(indices), max(indices)
    return Entity(starts[first], starts[last] + len(tokens[last]))


def fewrel_instance(record: Any, source: str, where: str, relation: str) -> RelationInstance:
    """One FewRel sentence: ``where`` is its place in the file (``P177[3].``), its id ``P177:3``."""
    if not isinstance(record, dict):
        raise DataError(source, None, where.rstrip("."), f"expected a JSON object, got {type(record).__name__}")
    tokens, text, starts = token_sentence(record, "tokens", source, None, where)
    subj, obj = _entity(record, "h", tokens, starts, source, where), _entity(record, "t", tokens, starts, source, where)
    check_spans(text, subj, obj, source, None, (f"{where}h", f"{where}t"))
    return RelationInstance(where.rstrip(".").replace("[", ":").rstrip("]"), text, subj, obj, relation, source)


def read_unseen(m: int) -> Any:
    """The reader of ``fewrel-unseen-M``: every sentence of the split's relations, relation by relation."""

    def read(path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
        folder, source = path.parent, str(path)
        data, names = _read_json(path), _names(folder)
        pids = split_relations(folder, m, split or "test", data)
        missing = [pid for pid in pids if pid not in data or pid not in names]
        if missing:
            raise DataError(source, None, missing[0], "a relation of the split is not in val_wiki.json or pid2name.json")

        def parser(pid: str, k: int, record: Any) -> RecordParser:
            return RecordParser(lambda r, s, _line: fewrel_instance(r, s, f"{pid}[{k}].", names[pid][0]), record, source, k, f"{pid}:{k}")

        return guarded((parser(pid, k, record) for pid in pids for k, record in enumerate(data[pid])), on_error)

    return read


def _zett(folder: Path) -> dict[str, str]:
    """PID -> ZETT's template in qa4re's form (``[X] is published by [Y] .`` -> ``{subj} is published by {obj}.``)."""
    path = folder / "zett_templates.tsv"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(str(path), None, None, "no such file (--templates names or descriptions need none)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(str(path), None, None, f"cannot read: {exc}") from None
    out = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) >= 3:
            template = re.sub(r"\s+([.,])", r"\1", parts[2].replace("[X]", "{subj}").replace("[Y]", "{obj}")).strip()
            out[parts[0]] = template
    return out


def unseen_schema(m: int) -> Any:
    """The schema of ``fewrel-unseen-M``'s split: its relations, closed-set (no NA option), one template set."""

    def schema(path: Path, split: str, templates: str | None) -> RelationSchema:
        folder, chosen = path.parent, templates or TEMPLATE_SETS[0]
        if chosen not in TEMPLATE_SETS:
            raise ConfigError(f"--templates for fewrel-unseen-{m}: one of {', '.join(TEMPLATE_SETS)}, not '{chosen}'")
        pids, names = split_relations(folder, m, split), _names(folder)
        if len(pids) < 2:
            raise ConfigError(f"fewrel-unseen-{m}'s {split} split has {len(pids)} relation; choose among at least two (fewrel-unseen-5's dev has 11)")
        zett = _zett(folder) if chosen == "zett" else {}
        entries: dict[str, str] = {}
        for pid in pids:
            name, description = names[pid]
            if chosen == "zett":
                entries[name] = zett.get(pid) or derived_template(name)
            elif chosen == "names":
                entries[name] = derived_template(name)
            else:
                entries[name] = f"{derived_template(name)} ({description.replace('{', '(').replace('}', ')')})"
        built = declared_schema(entries, name=f"fewrel-unseen-{m}.{split}", source=str(folder))
        return replace(built, template_set=chosen, offers_na=False)

    return schema


def _files(split: str) -> tuple[str, ...]:
    return (FILE,)  # one file; the reader takes the split's relations


FEWREL_UNSEEN_5 = Dataset("fewrel-unseen-5", read_unseen(5), None, _files, schema_for=unseen_schema(5))
FEWREL_UNSEEN_10 = Dataset("fewrel-unseen-10", read_unseen(10), None, _files, schema_for=unseen_schema(10))
FEWREL_UNSEEN_15 = Dataset("fewrel-unseen-15", read_unseen(15), None, _files, schema_for=unseen_schema(15))
