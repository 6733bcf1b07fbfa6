"""Pure functions that turn candidate relations into answer options."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from qa4re.schemas.model import RelationSchema, fill_template
from qa4re.types import Option

T = TypeVar("T")


def option_letter(index: int) -> str:
    """Letter of the option at ``index``: A..Z, then AA, AB, ... (spreadsheet columns).

    Beyond 26 options the letters are two characters; backends score every token of them.
    """
    if index < 0:
        raise ValueError(f"option index must be >= 0, got {index}")
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def mention(text: str) -> str:
    """How an entity mention appears inside QA4RE statements and sentences."""
    return f"[{text}]"


@dataclass(frozen=True, slots=True)
class OptionOrder:
    """Where options go. The default (candidates in schema order, NA last) is the paper's.

    Attributes:
        na_first: put the NA option first instead of last (ablation).
        shuffle_key: when set, shuffle the candidates with a random stream seeded by this key
            (ablation for position bias); NA keeps its place.
        rotation: cyclic shift of the finished option list, NA included (debiasing by
            permutation): the option at position ``i`` moves to position ``i - rotation``.
    """

    na_first: bool = False
    shuffle_key: str | None = None
    rotation: int = 0


PAPER_ORDER = OptionOrder()


def ordered_relations(candidates: Sequence[str], na_relation: str | None, order: OptionOrder = PAPER_ORDER) -> list[str]:
    """The relations of the options, in option order (``na_relation`` None: no NA option, a closed set)."""
    relations = [r for r in candidates if r != na_relation]
    if order.shuffle_key is not None:
        random.Random(order.shuffle_key).shuffle(relations)
    if na_relation is None:
        return relations
    return [na_relation, *relations] if order.na_first else [*relations, na_relation]


def offered_na(schema: RelationSchema) -> str | None:
    """The schema's NA relation where its options offer it (None for a closed-set schema)."""
    return schema.na_relation if schema.offers_na else None


def rotated(items: Sequence[T], rotation: int) -> list[T]:
    """``items`` cyclically shifted left by ``rotation`` positions."""
    if not items:
        return []
    shift = rotation % len(items)
    return [*items[shift:], *items[:shift]]


def qa_options(schema: RelationSchema, candidates: Sequence[str], subj: str, obj: str, order: OptionOrder = PAPER_ORDER) -> tuple[Option, ...]:
    """Lettered QA4RE options: one per template of each candidate, in order, NA last by default.

    A relation with several templates owns several letters.
    """
    relations = ordered_relations(candidates, offered_na(schema), order)
    statements = [(r, fill_template(t, mention(subj), mention(obj))) for r in relations for t in schema.templates[r]]
    return tuple(Option(option_letter(i), relation, statement) for i, (relation, statement) in enumerate(rotated(statements, order.rotation)))


def summary_options(schema: RelationSchema, candidates: Sequence[str], subj: str, obj: str, order: OptionOrder = PAPER_ORDER) -> tuple[Option, ...]:
    """SuRE's answers: each candidate's filled templates (plain mentions), NA included; the answer is the statement itself."""
    relations = ordered_relations(candidates, offered_na(schema), order)
    statements: dict[str, str] = {}
    for relation in relations:
        for template in schema.templates[relation]:
            statements.setdefault(fill_template(template, subj, obj), relation)  # a statement two relations share goes to the first
    return tuple(Option(statement, relation, statement) for statement, relation in rotated(list(statements.items()), order.rotation))


def label_options(schema: RelationSchema, candidates: Sequence[str], order: OptionOrder = PAPER_ORDER) -> tuple[Option, ...]:
    """Vanilla options: the answer is the raw label itself; the statement explains it."""
    relations = rotated(ordered_relations(candidates, offered_na(schema), order), order.rotation)
    return tuple(
        Option(relation, relation, " OR ".join(fill_template(t, "Entity 1", "Entity 2") for t in schema.templates[relation])) for relation in relations
    )
