"""Pure functions that turn candidate relations into answer options."""

from __future__ import annotations

from collections.abc import Sequence

from qa4re.schemas.model import RelationSchema, fill_template
from qa4re.types import Option


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


def qa_options(schema: RelationSchema, candidates: Sequence[str], subj: str, obj: str) -> tuple[Option, ...]:
    """Lettered QA4RE options: one per template of each candidate, in order, NA last.

    A relation with several templates owns several letters.
    """
    relations = [r for r in candidates if r != schema.na_relation] + [schema.na_relation]
    options: list[Option] = []
    for relation in relations:
        for template in schema.templates[relation]:
            statement = fill_template(template, mention(subj), mention(obj))
            options.append(Option(option_letter(len(options)), relation, statement))
    return tuple(options)


def label_options(schema: RelationSchema, candidates: Sequence[str]) -> tuple[Option, ...]:
    """Vanilla options: the answer is the raw label itself; the statement explains it."""
    relations = [r for r in candidates if r != schema.na_relation] + [schema.na_relation]
    return tuple(
        Option(relation, relation, " OR ".join(fill_template(t, "Entity 1", "Entity 2") for t in schema.templates[relation])) for relation in relations
    )
