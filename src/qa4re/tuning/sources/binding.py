"""Synthetic binding items: which lettered option says exactly this text?

Built from the option texts of a multiple-choice file (``binding:PATH``), they need no
knowledge, only the binding of a letter to its option, which is what small models lack. Each
item quotes one option's text and offers it among 2-8 other texts of the same file; the number
of options is set when the item is rendered (distractors are drawn then, like any item's).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from qa4re.tuning.items import MCItem
from qa4re.tuning.sources.mcqa import read_mcqa
from qa4re.types import ErrorRecord

MAX_CHARS = 80  # short texts: the quoted one must be read, not skimmed


def read_binding(spec: str, split: str, exclude: frozenset[str] = frozenset()) -> Iterator[MCItem | ErrorRecord]:
    """One binding item per usable record of ``spec`` (a multiple-choice JSON-lines file); seeded by the file."""
    texts: list[str] = []
    for record in read_mcqa(spec, split):
        if isinstance(record, MCItem):
            texts.extend(t for t in record.options if len(t) <= MAX_CHARS)
    pool = sorted(set(texts))
    rng = random.Random(f"binding:{len(pool)}")
    for number in range(len(pool) // 3):
        options = rng.sample(pool, 3)
        yield MCItem(f"binding-{number}", f'Which option says exactly "{options[0]}"?', tuple(options), 0, "binding")
