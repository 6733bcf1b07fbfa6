"""Load relation schemas from the built-in data files or from user YAML/JSON files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from qa4re.errors import SchemaError, UnknownNameError
from qa4re.registry import DataRegistry
from qa4re.schemas.declared import declared_schema
from qa4re.schemas.model import RelationSchema, template_problem

SCHEMAS = DataRegistry(
    "schema",
    "qa4re.schemas",
    {
        "tacred": "qa4re.schemas:data/tacred.v1.yaml", "tacrev": "qa4re.schemas:data/tacred.v1.yaml", "retacred": "qa4re.schemas:data/retacred.v1.yaml",
        "semeval": "qa4re.schemas:data/semeval.v1.yaml", "redocred": "qa4re.schemas:data/redocred.v1.yaml", "webred": "qa4re.schemas:data/webred.v1.yaml",
    },
)  # fmt: skip
"""Schemas by name: a data file inside a package; plug-ins add theirs through the entry-point group ``qa4re.schemas``
(``my-schema = "my_package:schemas/my.v1.yaml"``; its template-set files are read relative to it)."""


def list_schemas() -> list[str]:
    """Names of the registered schemas."""
    return sorted(SCHEMAS.names())


def _schema_document(name: str) -> tuple[dict[str, Any], str, Traversable]:
    """The parsed file of a registered schema, its label for messages, and the folder its template sets are read from."""
    file = SCHEMAS.file(name)
    label = SCHEMAS.get(name).replace(":", "/")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(label, "(file)", f"cannot read: {exc}") from None
    package, _, path = SCHEMAS.get(name).partition(":")
    folder = resources.files(package).joinpath(*path.split("/")[:-1])
    return read_schema_file(text, label), label, folder


def builtin_template_sets(name: str) -> list[str]:
    """The template sets a registered schema ships with, its default first."""
    data = _schema_document(name)[0]
    sets = [str(s) for s in data.get("template_sets") or {}]
    default = data.get("default_template_set")
    return sorted(sets, key=lambda s: s != default)


def read_schema_file(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SchemaError(source, "(file)", f"cannot parse: {exc}") from None
    if not isinstance(data, dict):
        raise SchemaError(source, "(file)", "the top level must be a mapping")
    return data


def string_list(value: Any, source: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise SchemaError(source, key, "must be a non-empty string or a non-empty list of strings")
    return tuple(value)


def _templates(raw: Any, source: str, key: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise SchemaError(source, key, "must map each relation to its template(s)")
    out: dict[str, tuple[str, ...]] = {}
    for relation, value in raw.items():
        templates = string_list(value, source, f"{key}.{relation}")
        for i, template in enumerate(templates):
            problem = template_problem(template)
            if problem:
                raise SchemaError(source, f"{key}.{relation}[{i}]", problem)
        out[str(relation)] = templates
    return out


def schema_from_mapping(data: Mapping[str, Any], source: str, template_set: str | None = None, base_dir: Path | Traversable | None = None) -> RelationSchema:
    """Validate a parsed schema document and build a :class:`RelationSchema`.

    ``relations`` is either a mapping label -> template(s), or a list of labels whose templates
    come from ``templates`` (a mapping) or from ``template_sets`` (name -> file, relative to the
    schema file, chosen by ``template_set`` or ``default_template_set``).
    """
    known = {"id", "name", "description", "na_relation", "relations", "templates", "template_sets", "default_template_set", "constraints"}
    for key in data:
        if key not in known:
            raise SchemaError(source, str(key), f"unknown key; expected one of {', '.join(sorted(known))}")
    name = data.get("id") or data.get("name") or Path(source).stem
    na = data.get("na_relation")
    raw_relations = data.get("relations")
    declared = isinstance(raw_relations, dict) and any(isinstance(v, dict) for v in raw_relations.values())
    if declared or isinstance(raw_relations, list) and not ("templates" in data or "template_sets" in data):
        # Declared relations: templates, descriptions, types, symmetric, inverse (or templates derived from the names).
        if data.get("constraints"):
            raise SchemaError(source, "constraints", "declared relations carry their own types (subject_types, object_types)")
        if na is not None and (not isinstance(na, str) or not na):
            raise SchemaError(source, "na_relation", "must be a non-empty string")
        return declared_schema(raw_relations or [], str(name), source, na)
    if not isinstance(na, str) or not na:
        raise SchemaError(source, "na_relation", "is required: the label of the no-relation class")
    chosen_set = "inline"
    if isinstance(raw_relations, dict):
        templates = _templates(raw_relations, source, "relations")
        relations = tuple(templates)
    elif isinstance(raw_relations, list):
        relations = string_list(raw_relations, source, "relations")
        if "templates" in data:
            templates = _templates(data["templates"], source, "templates")
        else:
            templates, chosen_set = _load_template_set(data, source, template_set, base_dir)
    else:
        raise SchemaError(source, "relations", "is required: a mapping label -> template(s) or a list of labels")
    if template_set is not None and chosen_set != template_set:
        raise SchemaError(source, "template_sets", f"has no template set '{template_set}'")
    if len(set(relations)) != len(relations):
        raise SchemaError(source, "relations", "lists a relation twice")
    if na not in relations:
        relations = (*relations, na)
    for relation in relations:
        if relation not in templates:
            raise SchemaError(source, f"templates.{relation}", "missing: every relation, NA included, needs a template")
    constraints = _constraints(data.get("constraints", {}), source, set(relations), na)
    return RelationSchema(str(name), na, relations, {r: templates[r] for r in relations}, constraints, chosen_set)


def _load_template_set(
    data: Mapping[str, Any], source: str, template_set: str | None, base_dir: Path | Traversable | None
) -> tuple[dict[str, tuple[str, ...]], str]:
    sets = data.get("template_sets")
    if not isinstance(sets, dict) or not sets:
        raise SchemaError(source, "template_sets", "is required when relations is a list and no templates are given")
    chosen = template_set or data.get("default_template_set") or next(iter(sets))
    if chosen not in sets:
        raise UnknownNameError(f"template set of {source}", str(chosen), [str(s) for s in sets])
    ref = sets[chosen]
    set_source, text = _read_relative(str(ref), base_dir, source)
    doc = read_schema_file(text, set_source)
    return _templates(doc.get("templates"), set_source, "templates"), str(chosen)


def _read_relative(ref: str, base_dir: Path | Traversable | None, source: str) -> tuple[str, str]:
    folder = base_dir if base_dir is not None else resources.files("qa4re.schemas").joinpath("data")
    path = folder.joinpath(*ref.split("/"))
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(source, "template_sets", f"cannot read {path}: {exc.strerror}") from None


def _constraints(raw: Any, source: str, relations: set[str], na: str) -> dict[str, tuple[str, ...]]:
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict):
        raise SchemaError(source, "constraints", "must map 'SUBJTYPE:OBJTYPE' to a list of relations")
    out: dict[str, tuple[str, ...]] = {}
    for pair, value in raw.items():
        key = f"constraints.{pair}"
        if not isinstance(pair, str) or pair.count(":") != 1 or not all(pair.split(":")):
            raise SchemaError(source, key, "type pair must look like 'SUBJTYPE:OBJTYPE'")
        candidates = string_list(value, source, key)
        for relation in candidates:
            if relation not in relations:
                raise SchemaError(source, key, f"unknown relation '{relation}'")
        # NA is always appended last by option building, never listed among candidates.
        out[pair] = tuple(r for r in candidates if r != na)
    return out


def load_schema(name_or_path: str | Path, template_set: str | None = None) -> RelationSchema:
    """Load a built-in schema by name (``tacred``, ``tacrev``, ``retacred``, ``semeval``) or a file.

    Args:
        name_or_path: built-in name, or path to a YAML/JSON schema file.
        template_set: template set to use (e.g. ``temp1``..``temp4`` for TACRED); default: the
            schema's default (``temp2`` = SuRE for TACRED).
    """
    key = str(name_or_path)
    if key in SCHEMAS:
        data, label, folder = _schema_document(key)
        return schema_from_mapping(data, label, template_set, base_dir=folder)
    path = Path(key)
    if not path.exists():
        if path.suffix in {".yaml", ".yml", ".json"} or "/" in key:
            raise SchemaError(key, "(file)", "no such file")
        raise UnknownNameError("schema", key, list_schemas())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(key, "(file)", f"cannot read: {exc}") from None
    return schema_from_mapping(read_schema_file(text, key), key, template_set, base_dir=path.parent)
