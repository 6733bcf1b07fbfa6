"""The practitioner's path: relation names in, triples out; schemas from names; symmetric and inverse relations.

The three-line example runs the embedded model and spaCy (plumbing: the 135M model's answers mean
nothing); the schema and reconciliation tests use the fake backend, which always picks the first option.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

import qa4re
from qa4re.backends.fake import FakeBackend
from qa4re.errors import ConfigError, SchemaError
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DocumentExtractor, Mention, Triple, reconcile
from qa4re.extract.pairs import Document
from qa4re.extract.pipeline import Extractor
from qa4re.schemas.declared import declared_schema, derived_template
from qa4re.schemas.loader import load_schema
from qa4re.types import Entity

TEXT = "Anna Berg married Tom Lind."
SPANS = [(0, 9, "PERSON"), (18, 26, "PERSON")]
SYMMETRIC_YAML = (
    "name: family\nrelations:\n  spouse: {symmetric: true, subject_types: PERSON, object_types: PERSON}\n  parent of: {inverse: child of}\n  child of: {}\n"
)


@pytest.mark.model
def test_the_three_line_example_returns_triples_whose_spans_point_at_their_mentions() -> None:
    rex = qa4re.RelationExtractor(["founded by", "chief executive of", "headquartered in"], model="default")
    text = "Steve Jobs and Steve Wozniak founded Apple in Cupertino."
    triples = rex(text)
    assert triples and all(isinstance(t, qa4re.Triple) for t in triples)
    for t in triples:
        assert text[t.subject.start : t.subject.end] == t.subject.text and text[t.object.start : t.object.end] == t.object.text
        assert t.relation in {"founded by", "chief executive of", "headquartered in"} and 0 <= t.confidence <= 1 and t.evidence == text
    assert {t.subject.text for t in triples} >= {"Steve Jobs", "Apple"}  # spaCy found the mentions
    assert [len(x) for x in rex.pipe([text, text], batch_size=2)] == [len(triples)] * 2
    rex.close()


def test_templates_are_derived_from_names_by_the_documented_rule() -> None:
    assert derived_template("founded by") == "{subj} was founded by {obj}"
    assert derived_template("headquartered in") == "{subj} is headquartered in {obj}"
    assert derived_template("chief executive of") == "{subj} is the chief executive of {obj}"
    assert derived_template("works_for") == "{subj} works for {obj}"
    assert derived_template("per:spouse") == "{subj} has the spouse {obj}"
    assert derived_template("locatedIn") == "{subj} is located in {obj}"


def test_a_list_of_names_a_mapping_with_descriptions_and_a_yaml_file_all_load(tmp_path: Path) -> None:
    names = declared_schema(["founded by", "works for"])
    assert names.relations == ("founded by", "works for", "no_relation") and names.templates["no_relation"] == ("{subj} has no known relations to {obj}",)
    born = {"description": "{subj} was born in the city {obj}", "subject_types": ["PERSON"], "object_types": "CITY"}
    described = declared_schema({"ceo": {"description": "chief executive of"}, "hq": "{subj} has its headquarters in {obj}", "born": born})
    assert described.templates["ceo"] == ("{subj} is the chief executive of {obj}",) and described.templates["hq"] == ("{subj} has its headquarters in {obj}",)
    assert described.constraints == {"PERSON:CITY": ("ceo", "hq", "born")}
    path = tmp_path / "family.yaml"
    path.write_text(SYMMETRIC_YAML)
    family = load_schema(path)
    assert family.symmetric == {"spouse"} and family.inverses == {"parent of": "child of", "child of": "parent of"}
    assert qa4re.RelationExtractor(path, model="fake:x", ner=None).schema.symmetric == {"spouse"}
    with pytest.raises(SchemaError, match="inverse: names no relation of the schema: 'kid of'"):
        declared_schema({"parent of": {"inverse": "kid of"}})
    with pytest.raises(SchemaError, match="relations.x.colour: unknown key"):
        declared_schema({"x": {"colour": "red"}})
    with pytest.raises(ConfigError, match="Unknown setting 'devcie'. Did you mean: device"):
        qa4re.RelationExtractor(["founded by"], model="fake:x", ner=None, devcie="cpu")


def _triple(subject: tuple[int, int], relation: str, obj: tuple[int, int], confidence: float) -> Triple:
    return Triple("d", Mention("s", *subject, None), relation, Mention("o", *obj, None), confidence, TEXT)


def test_one_triple_per_fact_for_symmetric_and_inverse_relations() -> None:
    schema = declared_schema({"spouse": {"symmetric": True}, "parent of": {"inverse": "child of"}, "child of": {}, "knows": {}})
    a, b = (0, 9), (18, 26)
    triples = (_triple(a, "spouse", b, 0.4), _triple(b, "spouse", a, 0.6), _triple(a, "parent of", b, 0.7), _triple(b, "child of", a, 0.5),
               _triple(a, "knows", b, 0.5), _triple(b, "knows", a, 0.5))  # fmt: skip
    kept = reconcile(triples, schema)
    assert kept == (triples[1], triples[2], triples[4], triples[5])  # the more confident direction; 'knows' is neither
    assert reconcile(triples, load_schema("tacred")) == triples  # a schema that declares neither is unchanged


def test_inverse_pairs_are_reconciled_in_the_document_pipeline() -> None:
    schema = declared_schema({"parent of": {"inverse": "child of"}, "child of": {}})

    def script(prompt: str, answers: tuple[str, ...]) -> str:  # "Anna parent of Tom" from Anna's side, "Tom child of Anna" from Tom's
        return "A" if "[Anna Berg] is the parent of" in prompt.split("Options:")[-1] else "B"

    documents = DocumentExtractor(Extractor(schema, FakeBackend(script), ExtractorConfig()))
    (result,) = documents.extract([Document("d", TEXT, tuple(Entity(*s) for s in SPANS), "t", 1)])
    assert [(t.subject.text, t.relation, t.object.text) for t in result.triples] == [("Anna Berg", "parent of", "Tom Lind")]


@pytest.fixture
def family(tmp_path: Path) -> Path:
    path = tmp_path / "family.yaml"
    path.write_text(SYMMETRIC_YAML)
    plain = tmp_path / "plain.yaml"
    plain.write_text(SYMMETRIC_YAML.replace("symmetric: true", "symmetric: false"))
    return tmp_path


def test_symmetric_relations_give_one_triple_in_extract(family: Path) -> None:
    from helpers import qa4re as run

    docs = family / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "text": TEXT, "entities": [{"start": s, "end": e, "type": t} for s, e, t in SPANS]}) + "\n")
    counts = []
    for schema in ("plain.yaml", "family.yaml"):
        out = family / f"{schema}.jsonl"
        run("extract", "--schema", family / schema, "--input", docs, "--output", out, "--model", "fake:x", "--cache", family / "c.sqlite")
        counts.append(len(out.read_text().splitlines()))
    assert counts == [2, 1]


def test_symmetric_relations_give_one_triple_in_the_service_the_spacy_component_and_the_api(family: Path) -> None:
    from fastapi.testclient import TestClient

    from qa4re.integrations.service import create_app

    entities = [{"start": s, "end": e, "type": t} for s, e, t in SPANS]
    counts: dict[str, list[int]] = {"service": [], "spacy": [], "api": []}
    for schema in ("plain.yaml", "family.yaml"):
        path = family / schema
        with TestClient(create_app(load_schema(path), FakeBackend())) as client:
            counts["service"].append(len(client.post("/extract", json={"text": TEXT, "entities": entities}).json()["triples"]))
        counts["spacy"].append(len(_spacy_doc(path, family)._.relations))
        counts["api"].append(len(qa4re.RelationExtractor(path, model="fake:x", ner=None, cache=family / "c.sqlite")(TEXT, SPANS)))
    assert counts == {"service": [2, 1], "spacy": [2, 1], "api": [2, 1]}


def _spacy_doc(schema: Path, folder: Path):  # type: ignore[no-untyped-def]
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Anna Berg"}, {"label": "PERSON", "pattern": "Tom Lind"}])
    nlp.add_pipe("qa4re", config={"schema": str(schema), "model": "fake:x", "cache": str(folder / "c.sqlite")})
    return nlp(TEXT)


def test_the_api_needs_entities_when_it_has_no_ner() -> None:
    rex = qa4re.RelationExtractor(["spouse"], model="fake:x", ner=None)
    with pytest.raises(ConfigError, match="no entities given and no spaCy pipeline"):
        rex(TEXT)
    assert len(rex(TEXT, SPANS)) == 2


def test_one_model_serves_relation_lists_given_per_call_and_no_cache_file_is_written_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA4RE_CACHE_DIR", str(tmp_path / "cache"))
    backend = FakeBackend()
    rex = qa4re.RelationExtractor(model=backend, ner=None)
    text, spans = "Anna was born in Oslo.", [(0, 4, "PERSON"), (17, 21, "CITY")]
    with pytest.raises(ConfigError, match="no relations"):
        rex(text, spans)
    born = rex(text, spans, relations={"born in": {"template": "{subj} was born in {obj}", "subject_types": "PERSON", "object_types": "CITY"}})
    lived = rex(text, spans, relations={"lived in": {"template": "{subj} lived in {obj}", "subject_types": "PERSON", "object_types": "CITY"}})
    assert [t.relation for t in born] == ["born in"] and [t.relation for t in lived] == ["lived in"]
    assert isinstance(born[0], qa4re.Triple) and len(backend.history) == 2  # one model, both lists
    rex.close()
    assert backend.score_options([]) == []  # a backend given to it is not closed by it
    named = qa4re.RelationExtractor(["born in"], model="fake:x", ner=None)
    named(text, spans)
    assert not (tmp_path / "cache").exists()  # no output cache unless cache= names a file
    cached = qa4re.RelationExtractor(["born in"], model="fake:x", ner=None, cache=tmp_path / "c.sqlite")
    cached(text, spans)
    assert (tmp_path / "c.sqlite").is_file()


def test_every_document_adapter_offers_the_prompt_settings_declared_for_them() -> None:
    import typer.main

    from qa4re.cli import app
    from qa4re.fields import field_names
    from qa4re.integrations.spacy import make_relation_extractor

    keys = set(field_names(ExtractorConfig, lambda s: s.spacy))
    assert {"method", "debias", "selector", "preselect", "answer_prefix"} <= keys
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("extract", "serve"):
        assert keys <= {p.name for p in commands[name].params}, name
    assert keys <= set(inspect.signature(make_relation_extractor).parameters)  # the spaCy component's config
    rex = qa4re.RelationExtractor(["born in"], model="fake:x", ner=None, method="vanilla", debias="permute", permutations=2)
    assert rex.config.method == "vanilla" and rex.config.permutations == 2  # the API takes every setting by name
