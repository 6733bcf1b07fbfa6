"""Pure rendering of multiple-choice items into lettered prompts (the tuning data's surface).

The instructions are data (``tuning/data/instructions.v1.yaml``): several generic wordings for
training and one never trained on for the held-out measurement. How many options an item shows and
where its answer goes are drawn per item: the count uniform over ``[min_options, max_options]``
(padding with option texts of other items, dropping wrong options where an item has more), the
answer's position uniform over the letters.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

import yaml

from qa4re.prompts.options import option_letter
from qa4re.tuning.items import MCItem


@dataclass(frozen=True, slots=True)
class Instructions:
    """The training wordings and the held-out one."""

    id: str
    train: tuple[Template, ...]
    heldout: Template


@cache
def instructions() -> Instructions:
    data = yaml.safe_load(resources.files("qa4re.tuning").joinpath("data", "instructions.v1.yaml").read_text(encoding="utf-8"))
    return Instructions(data["id"], tuple(Template(t) for t in data["train"]), Template(data["heldout"]))


@dataclass(frozen=True, slots=True)
class RenderedItem:
    """A prompt with lettered options; ``texts[gold]`` is right and ``letters[gold]`` its answer."""

    id: str
    prompt: str
    letters: tuple[str, ...]
    texts: tuple[str, ...]
    gold: int


def render(item_id: str, question: str, texts: Sequence[str], gold: int, template: Template) -> RenderedItem:
    """``template`` filled with the question and the options lettered A, B, ... in the order given."""
    letters = tuple(option_letter(i) for i in range(len(texts)))
    lines = "\n".join(f"{letter}. {text}" for letter, text in zip(letters, texts, strict=True))
    return RenderedItem(item_id, template.substitute(question=question, options=lines), letters, tuple(texts), gold)


def render_fixed(item: MCItem) -> RenderedItem:
    """An item whose prompt is already rendered (its options lettered A, B, ... in their order): as it is."""
    assert item.prompt is not None
    return RenderedItem(item.id, item.prompt, tuple(option_letter(i) for i in range(len(item.options))), item.options, item.answer)


def arrange(item: MCItem, count: int, position: int, distractors: Sequence[str], rng: random.Random) -> tuple[list[str], int]:
    """``count`` option texts with the item's answer at ``position``: its wrong options (some dropped
    when there are too many) and then ``distractors``, in a random order around the answer."""
    wrong = [t for i, t in enumerate(item.options) if i != item.answer]
    rng.shuffle(wrong)
    seen = set(item.options)
    extra = [t for t in distractors if t not in seen and not seen.add(t)]  # type: ignore[func-returns-value]
    others = (wrong + extra)[: count - 1]
    rng.shuffle(others)
    return [*others[:position], item.options[item.answer], *others[position:]], min(position, len(others))


def draw(item: MCItem, pool: Sequence[str], rng: random.Random, min_options: int, max_options: int, template: Template) -> RenderedItem:
    """``item`` rendered with a drawn option count and answer position, distractors drawn from ``pool``."""
    count = rng.randint(min_options, max_options)
    position = rng.randrange(count)
    distractors = [pool[rng.randrange(len(pool))] for _ in range(max(0, count - len(item.options)) + 4)] if pool else []
    texts, gold = arrange(item, count, position, distractors, rng)
    return render(item.id, item.question, texts, gold, template)


def heldout_item(item: MCItem, count: int | None, pool: Sequence[str], rng: random.Random) -> RenderedItem:
    """The held-out wording: the item's own options in their order (``count`` None), or padded to ``count``
    with the answer at a uniformly drawn position."""
    template = instructions().heldout
    if count is None:
        return render(item.id, item.question, item.options, item.answer, template)
    return draw(item, pool, rng, count, count, template)
