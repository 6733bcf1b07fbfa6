"""Relation schemas: relations, their templates, the NA relation and type constraints."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping
from dataclasses import dataclass

ALLOWED_FIELDS = frozenset({"subj", "obj"})


def template_problem(template: str) -> str | None:
    """Return why ``template`` is not a valid relation template, or None when it is.

    Only the bare fields ``{subj}`` and ``{obj}`` are allowed: no attribute or index access,
    no conversion and no format spec, so a template can never evaluate anything.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"malformed template {template!r}: {exc}"
    seen = set()
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in ALLOWED_FIELDS or spec or conversion:
            return f"template {template!r} may only use the fields {{subj}} and {{obj}}, found {{{field}}}"
        seen.add(field)
    if not seen:
        return f"template {template!r} uses neither {{subj}} nor {{obj}}"
    return None


def fill_template(template: str, subj: str, obj: str) -> str:
    """Fill a validated template with the two mentions, without ``str.format`` evaluation."""
    values = {"subj": subj, "obj": obj}
    pieces: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if field is not None:
            pieces.append(values[field])
    return "".join(pieces)


@dataclass(frozen=True)
class RelationSchema:
    """A validated relation schema with one chosen template set.

    Attributes:
        name: schema id, e.g. ``qa4re.tacred.v1``.
        na_relation: the no-relation label (always offered last).
        relations: every label, NA included, in the schema's order.
        templates: label -> one or more templates with ``{subj}``/``{obj}``.
        constraints: ``"SUBJTYPE:OBJTYPE"`` -> candidate labels in option order (NA excluded).
            Empty means no type constraints: every relation is a candidate.
        template_set: name of the template set in use.
        symmetric: relations that hold both ways (``spouse``): one triple per unordered pair.
        inverses: relation -> its inverse, both ways (``parent of`` <-> ``child of``): ``A r B`` and
            ``B inverse(r) A`` are one fact, reported once.
        offers_na: False for a closed-set protocol (FewRel's unseen relations): the NA option is
            never offered, every answer is one of the candidates.
    """

    name: str
    na_relation: str
    relations: tuple[str, ...]
    templates: Mapping[str, tuple[str, ...]]
    constraints: Mapping[str, tuple[str, ...]]
    template_set: str
    symmetric: frozenset[str] = frozenset()
    inverses: Mapping[str, str] = dataclasses.field(default_factory=dict)
    offers_na: bool = True

    @property
    def positive_relations(self) -> tuple[str, ...]:
        return tuple(r for r in self.relations if r != self.na_relation)

    def candidates(self, type_pair: str | None, constraints: bool = True) -> tuple[str, ...] | None:
        """Candidate relations (NA excluded) in option order, or None for an unlisted type pair.

        A type may name alternatives, ``"CITY|COUNTRY"`` (an entity detector that cannot tell them
        apart): the candidates are then the union over the alternatives, in the schema's order.
        """
        if not constraints or not self.constraints:
            return self.positive_relations
        if type_pair is None:
            return None
        listed = self.constraints.get(type_pair)
        if listed is not None or "|" not in type_pair:
            return listed
        subj_types, obj_types = (side.split("|") for side in type_pair.split(":", 1))
        allowed = {r for s in subj_types for o in obj_types for r in self.constraints.get(f"{s}:{o}", ())}
        return tuple(r for r in self.positive_relations if r in allowed) or None

    @property
    def entity_types(self) -> frozenset[str]:
        """Every entity type the constraints mention (empty without constraints)."""
        return frozenset(t for pair in self.constraints for t in pair.split(":", 1))
