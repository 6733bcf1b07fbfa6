"""Tuning items: reading them (bad records are error records at file:line), rendering them, and the item stream."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from qa4re.errors import DataError, UnknownNameError
from qa4re.tuning.items import ITEM_SOURCES, MCItem, SourceSpec, items_digest, read_items
from qa4re.tuning.render import draw, heldout_item, instructions
from qa4re.tuning.settings import TuneSettings
from qa4re.tuning.trainer import ItemStream
from qa4re.types import ErrorRecord

GOOD = {"question": "What is 2 + 2?", "options": ["3", "4", "5"], "answer": 1}


def write_items(path: Path, records: list[object]) -> Path:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else (json.dumps(r) + "\n").encode() for r in records))
    return path


def test_bad_records_are_error_records_at_their_line_and_the_rest_is_read(tmp_path: Path) -> None:
    data = write_items(tmp_path / "items.jsonl", [
        GOOD,
        {"options": ["a", "b"], "answer": 0},
        {**GOOD, "answer": 3},
        {**GOOD, "options": []},
        b"\xff\xfe not utf-8\n",
        {**GOOD, "id": "x7", "answer": "B"},
        {**GOOD, "id": "held", "split": "heldout"},
        {**GOOD, "id": "last"},
    ])  # fmt: skip
    (items,), errors = read_items([SourceSpec("mcqa", str(data))], "train")
    assert [i.id for i in items] == ["items.jsonl:1", "last"]
    assert [(e.line, e.field) for e in errors] == [(2, "question"), (3, "answer"), (4, "options"), (5, None), (6, "answer")]
    assert all(isinstance(e, ErrorRecord) and e.message.startswith(f"{data}:{e.line}") for e in errors)
    assert errors[-1].id == "x7" and "out of range" in errors[1].message and "UTF-8" in errors[3].message
    (held,), _ = read_items([SourceSpec("mcqa", str(data))], "heldout")
    assert [i.id for i in held] == ["held"]


def test_a_missing_file_is_one_data_error() -> None:
    with pytest.raises(DataError, match="nope.jsonl: no such file"):
        read_items([SourceSpec("mcqa", "nope.jsonl")], "train")


def test_sources_are_named_with_did_you_mean(tmp_path: Path) -> None:
    data = write_items(tmp_path / "a.jsonl", [GOOD])
    assert SourceSpec.parse(str(data)) == SourceSpec("mcqa", str(data))
    assert SourceSpec.parse(f"binding:{data}") == SourceSpec("binding", str(data))
    with pytest.raises(UnknownNameError, match="Did you mean: binding"):
        SourceSpec.parse("bindng:x.jsonl")
    assert {"mcqa", "binding"} <= set(ITEM_SOURCES.names())


def test_binding_items_quote_one_of_their_own_options(tmp_path: Path) -> None:
    data = write_items(tmp_path / "a.jsonl", [{"question": "q", "options": [f"text {i}", f"other {i}"], "answer": 0} for i in range(9)])
    (items,), _ = read_items([SourceSpec("binding", str(data))], "train")
    assert len(items) == 6
    for item in items:
        assert item.question == f'Which option says exactly "{item.options[item.answer]}"?'


def test_the_instructions_never_use_the_qa4re_wording() -> None:
    wordings = [t.template for t in instructions().train] + [instructions().heldout.template]
    assert len(wordings) >= 4 and len(set(wordings)) == len(wordings)
    assert not any("inferred" in w or "Sentence" in w for w in wordings)


POOL = [f"distractor {i}" for i in range(100)]


def test_drawn_items_spread_their_option_count_and_answer_position() -> None:
    item = MCItem("q1", "Which is right?", ("right", "wrong 1", "wrong 2", "wrong 3"), 0)
    rng = random.Random(0)
    drawn = [draw(item, POOL, rng, 2, 26, instructions().train[0]) for _ in range(3000)]
    counts = Counter(len(d.letters) for d in drawn)
    assert set(counts) == set(range(2, 27)) and max(counts.values()) < 2 * min(counts.values())
    assert all(d.texts[d.gold] == "right" and len(set(d.texts)) == len(d.texts) for d in drawn)
    twelve = [d for d in drawn if len(d.letters) == 12]
    positions = Counter(d.gold for d in twelve)
    assert set(positions) == set(range(12))
    assert f"{drawn[0].letters[drawn[0].gold]}. right" in drawn[0].prompt


def test_held_out_items_keep_their_options_or_are_padded() -> None:
    item = MCItem("q1", "Which is right?", ("a", "b", "c", "d"), 2)
    own = heldout_item(item, None, POOL, random.Random(0))
    assert own.texts == item.options and own.gold == 2 and own.prompt.endswith("Answer with the letter of the correct option.")
    padded = heldout_item(item, 12, POOL, random.Random(0))
    assert len(padded.letters) == 12 and padded.texts[padded.gold] == "c" and set(item.options) <= set(padded.texts)


def test_the_item_stream_is_a_function_of_the_seed_and_the_example_number() -> None:
    items = [MCItem(f"q{i}", f"question {i}", (f"a{i}", f"b{i}", f"c{i}"), i % 3) for i in range(10)]
    stream = ItemStream([items], TuneSettings(seed=4))
    again = ItemStream([items], TuneSettings(seed=4))
    backwards = {k: again.item(k).id for k in reversed(range(25))}  # asked in another order: the same items
    assert [stream.item(k).id for k in range(25)] == [backwards[k] for k in range(25)]
    assert sorted(stream.item(k).id for k in range(10)) == sorted(i.id for i in items)
    assert [stream.item(k).id for k in range(10)] != [ItemStream([items], TuneSettings(seed=5)).item(k).id for k in range(10)]
    assert items_digest(items) == items_digest(list(items)) != items_digest(items[::-1])


def test_a_sequential_mix_takes_each_source_in_turn() -> None:
    first = [MCItem(f"a{i}", "q", ("x", "y"), 0) for i in range(4)]
    second = [MCItem(f"b{i}", "q", ("x", "y"), 0) for i in range(4)]
    stream = ItemStream([first, second], TuneSettings(mix="sequential"))
    assert [stream.item(k).id[0] for k in range(8)] == list("aaaabbbb")


def test_settings_refuse_what_cannot_be_tuned() -> None:
    from qa4re.errors import ConfigError

    with pytest.raises(ConfigError, match="at most 26"):
        TuneSettings(max_options=30)
    with pytest.raises(ConfigError, match="float32 or bfloat16"):
        TuneSettings(dtype="float16")
    with pytest.raises(UnknownNameError, match="Did you mean: letter"):
        TuneSettings(objective="leter")
