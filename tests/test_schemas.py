from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SHARED
from qa4re.errors import SchemaError, UnknownNameError
from qa4re.schemas.loader import load_schema
from qa4re.schemas.model import fill_template, template_problem

REFERENCE = SHARED / "reference" / "qa4re" / "templates"
TEMPLATE_FILES = {
    ("tacred", "temp1"): "TACRED_LABEL_TEMPLATES.json",
    ("tacred", "temp2"): "SURE_TACRED_LABEL_TEMPLATES.json",
    ("tacred", "temp3"): "SURE_2_TACRED_LABEL_TEMPLATES.json",
    ("tacred", "temp4"): "SURE_3_TACRED_LABEL_TEMPLATES.json",
    ("retacred", None): "SURE_RETACRED_LABEL_TEMPLATES.json",
    ("semeval", None): "SURE_SEMEVAL_LABEL_TEMPLATES.json",
}


@pytest.mark.parametrize(
    ("name", "relations", "default_set"), [("tacred", 42, "temp2"), ("tacrev", 42, "temp2"), ("retacred", 40, "sure"), ("semeval", 19, "sure")]
)
def test_builtin_schemas_load_with_their_default_template_set(name: str, relations: int, default_set: str) -> None:
    schema = load_schema(name)
    assert len(schema.relations) == relations
    assert schema.template_set == default_set


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="needs ../shared/reference")
@pytest.mark.parametrize(("key", "file"), list(TEMPLATE_FILES.items()))
def test_builtin_templates_equal_the_reference_data(key: tuple[str, str | None], file: str) -> None:
    schema = load_schema(key[0], key[1])
    reference = json.loads((REFERENCE / file).read_text(encoding="utf-8"))
    assert {r: list(t) for r, t in schema.templates.items()} == {r: reference[r] for r in schema.relations}


def test_temp1_keeps_the_mojibake_apostrophe_of_the_source_data() -> None:
    assert load_schema("tacred", "temp1").templates["per:date_of_birth"][0] == "{subj}\u00e2\u0080\u0099s birthday is on {obj}"


def test_semeval_constraints_offer_all_18_directional_labels() -> None:
    schema = load_schema("semeval")
    assert schema.candidates("MISC:MISC") == schema.positive_relations
    assert len(schema.positive_relations) == 18


def test_unknown_template_set_lists_the_available_ones() -> None:
    with pytest.raises(UnknownNameError, match="temp1, temp2, temp3, temp4"):
        load_schema("tacred", "temp9")


def test_unknown_schema_name_suggests_a_close_name() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: tacred"):
        load_schema("tacrd")


@pytest.mark.parametrize("template", ["{subj.__class__} is {obj}", "{subj} is {obj[0]}", "{subj!r} is {obj}", "{subj:>10} {obj}", "{0} {obj}", "{user} {obj}"])
def test_templates_with_format_tricks_are_rejected(template: str) -> None:
    assert template_problem(template) is not None


def test_fill_template_does_not_evaluate_braces_in_mentions() -> None:
    assert fill_template("{subj} likes {obj}", "{obj}", "{subj.__class__}") == "{obj} likes {subj.__class__}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_schema_loads_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "na_relation: none\nrelations:\n  founded_by: '{subj} was founded by {obj}'\n"
        "  none: '{subj} and {obj} are unrelated'\nconstraints:\n  ORG:PER: [founded_by]\n",
    )
    schema = load_schema(path)
    assert schema.relations == ("founded_by", "none")
    assert schema.candidates("ORG:PER") == ("founded_by",)
    assert schema.candidates("PER:ORG") is None


def test_user_schema_with_an_evaluating_template_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "na_relation: none\nrelations:\n  bad: '{subj.__class__} is {obj}'\n  none: '{subj} vs {obj}'\n")
    with pytest.raises(SchemaError) as error:
        load_schema(path)
    assert str(error.value).startswith(f"{path}: relations.bad[0]: ")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("relations:\n  a: '{subj} {obj}'\n", "na_relation"),
        ("na_relation: none\nrelations:\n  a: '{subj} {obj}'\n", "templates.none"),
        ("na_relation: none\nrelations: {a: '{subj} {obj}', none: '{subj} {obj}'}\nconstraints: {'X:Y': [b]}\n", "constraints.X:Y"),
        ("na_relation: none\nrelations: {a: '{subj} {obj}', none: '{subj} {obj}'}\nconstraints: {'XY': [a]}\n", "constraints.XY"),
        ("na_relation: none\nrelation: {}\n", "relation"),
        ("na_relation: none\nrelations: {a: [], none: '{subj} {obj}'}\n", "relations.a"),
        ("na_relation: [\n", "(file)"),
    ],
)
def test_invalid_user_schema_names_the_offending_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(SchemaError) as error:
        load_schema(write(tmp_path, text))
    assert error.value.key == key
    assert error.value.source == str(tmp_path / "schema.yaml")
