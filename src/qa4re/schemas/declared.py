"""Schemas from what users have: a list of relation names, or names with a template, a description,
types, and whether the relation is symmetric or the inverse of another.

Template rule (when a relation gives neither ``template`` nor a ``description`` with ``{subj}``/``{obj}``),
applied to its name, or to its description when that is a short phrase without placeholders:

1. the name is made a phrase: a prefix up to ``:`` is dropped (``per:employee_of`` -> ``employee_of``),
   ``_``, ``-`` and camelCase become spaces, lower case;
2. a phrase of two or more words whose first word is a past participle (``founded by``, ``born in``,
   ``headquartered in``) reads ``{subj} was|is <phrase> {obj}`` (``was`` for the events in ``EVENTS``);
3. a phrase whose first word is a verb in the third person (``works for``, ``owns``, ``employs``)
   reads ``{subj} <phrase> {obj}``;
4. a phrase that ends with a preposition (``chief executive of``, ``member of``) reads
   ``{subj} is the <phrase> {obj}``;
5. any other phrase, a noun (``spouse``, ``parent``, ``employer``), reads ``{subj} has the <phrase> {obj}``
   (the style of the TACRED templates: ``{subj} has the parent {obj}``).

The NA relation (``no_relation`` unless named) reads the paper's ``{subj} has no known relations to {obj}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from qa4re.errors import SchemaError
from qa4re.schemas.model import RelationSchema, template_problem

NA_RELATION = "no_relation"
NA_TEMPLATE = "{subj} has no known relations to {obj}"
PREPOSITIONS = frozenset({"of", "in", "at", "for", "by", "to", "with", "from", "on", "into", "as", "about", "under", "over", "near", "within"})
EVENTS = frozenset({"born", "founded", "created", "killed", "married", "educated", "established", "acquired", "elected", "appointed", "buried",
                    "died", "written", "directed", "produced", "published", "released", "invented", "discovered", "designed", "built"})  # fmt: skip
_IRREGULAR_PARTICIPLES = frozenset({"born", "written", "built", "made", "held", "known", "given", "taken", "owned", "led", "run", "won", "sold"})
_THIRD_PERSON = re.compile(r"^[a-z]+(?<!ss)s$")  # works, owns, employs; not "class", "boss"
_NOT_VERBS = frozenset({"parents", "children", "siblings", "members", "employees", "headquarters", "origins", "alternate", "countries", "cities"})
RELATION_KEYS = frozenset({"template", "templates", "description", "subject_types", "object_types", "symmetric", "inverse"})


def phrase(name: str) -> str:
    """A relation name as words: ``per:employee_of`` -> ``employee of``, ``locatedIn`` -> ``located in``."""
    name = name.split(":", 1)[1] if ":" in name else name
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[\s_\-/]+", name.strip())).lower()


def derived_template(text: str) -> str:
    """The template of a relation from its name or a short description (the rule in the module docstring)."""
    words = phrase(text).split()
    if not words:
        return "{subj} is related to {obj}"
    first, body = words[0], " ".join(words)
    participle = first in _IRREGULAR_PARTICIPLES or first.endswith("ed")
    if participle and len(words) >= 2:
        return f"{{subj}} {'was' if first in EVENTS else 'is'} {body} {{obj}}"
    if _THIRD_PERSON.match(first) and first not in _NOT_VERBS:
        return f"{{subj}} {body} {{obj}}"
    if words[-1] in PREPOSITIONS:
        return f"{{subj}} is the {body} {{obj}}"
    return f"{{subj}} has the {body} {{obj}}"


def _types(value: Any, source: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise SchemaError(source, key, "must be a type name or a list of type names")
    return tuple(values)


def declared_schema(
    relations: Iterable[str] | Mapping[str, Any], name: str = "user", source: str = "relations", na_relation: str | None = None
) -> RelationSchema:
    """A schema from relation names, or from a mapping name -> template string, list of templates, or
    ``{template | templates | description, subject_types, object_types, symmetric, inverse}``."""
    entries: dict[str, Any] = dict(relations) if isinstance(relations, Mapping) else {str(r): None for r in relations}
    if not entries:
        raise SchemaError(source, "relations", "name at least one relation")
    na = na_relation or NA_RELATION
    templates: dict[str, tuple[str, ...]] = {}
    symmetric: set[str] = set()
    inverses: dict[str, str] = {}
    typed: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for relation, value in entries.items():
        key = f"relations.{relation}"
        if not isinstance(relation, str) or not relation.strip():
            raise SchemaError(source, "relations", f"a relation name must be a non-empty string, got {relation!r}")
        spec: Mapping[str, Any] = {"template": value} if isinstance(value, str | list) else value or {}
        if not isinstance(spec, Mapping):
            raise SchemaError(source, key, "must be a template, a list of templates or a mapping of template, description, types, symmetric, inverse")
        unknown = set(spec) - RELATION_KEYS
        if unknown:
            raise SchemaError(source, f"{key}.{sorted(unknown)[0]}", f"unknown key; expected one of {', '.join(sorted(RELATION_KEYS))}")
        given = spec.get("templates", spec.get("template"))
        description = spec.get("description")
        if given is None and isinstance(description, str) and "{" in description:
            given = description
        if given is None:
            given = (
                NA_TEMPLATE if relation == na else derived_template(description if isinstance(description, str) and len(description.split()) <= 6 else relation)
            )
        found = [given] if isinstance(given, str) else given
        if not isinstance(found, list) or not found or not all(isinstance(t, str) for t in found):
            raise SchemaError(source, f"{key}.template", "must be a string or a non-empty list of strings")
        for i, template in enumerate(found):
            if problem := template_problem(template):
                raise SchemaError(source, f"{key}.template[{i}]", problem)
        templates[relation] = tuple(found)
        if spec.get("symmetric"):
            symmetric.add(relation)
        if spec.get("inverse") is not None:
            inverses[relation] = str(spec["inverse"])
        subject_types, object_types = (
            _types(spec.get("subject_types"), source, f"{key}.subject_types"),
            _types(spec.get("object_types"), source, f"{key}.object_types"),
        )
        if subject_types or object_types:
            typed[relation] = (subject_types, object_types)
    if na not in templates:
        templates[na] = (NA_TEMPLATE,)
    for relation, other in inverses.items():
        if other not in templates:
            raise SchemaError(source, f"relations.{relation}.inverse", f"names no relation of the schema: '{other}'")
        if inverses.get(other, relation) != relation:
            raise SchemaError(source, f"relations.{relation}.inverse", f"'{other}' is declared the inverse of '{inverses[other]}'")
    both = {**inverses, **{other: relation for relation, other in inverses.items()}}
    return RelationSchema(name, na, tuple(templates), templates, _constraints(typed, templates, na), "derived", frozenset(symmetric), both)


def _constraints(typed: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]], templates: Mapping[str, Any], na: str) -> dict[str, tuple[str, ...]]:
    """Type constraints from the relations that declare types; a relation that declares none goes with every declared pair."""
    if not typed:
        return {}
    subjects = sorted({t for s, _ in typed.values() for t in s})
    objects = sorted({t for _, o in typed.values() for t in o})
    out: dict[str, tuple[str, ...]] = {}
    for s in subjects:
        for o in objects:
            allowed = [r for r in templates if r != na and (r not in typed or (not typed[r][0] or s in typed[r][0]) and (not typed[r][1] or o in typed[r][1]))]
            if allowed:
                out[f"{s}:{o}"] = tuple(allowed)
    return out
