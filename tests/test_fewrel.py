"""FewRel's unseen-relation benchmark: the splits, the closed-set schema, bad records, macro scores, evaluate end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SHARED
from helpers import qa4re
from qa4re.datasets import OnError, dataset_file, dataset_schema, read_dataset
from qa4re.datasets.fewrel import split_relations
from qa4re.errors import ConfigError
from qa4re.evaluation.metrics import macro_scores
from qa4re.extract.builder import PromptBuilder
from qa4re.extract.config import ExtractorConfig
from qa4re.types import ErrorRecord, RelationInstance

FEWREL = SHARED / "data" / "fewrel"


@pytest.mark.parametrize(("m", "count"), [(5, 3500), (10, 7000), (15, 10500)])
def test_the_unseen_test_splits_have_the_published_sentence_counts(m: int, count: int) -> None:
    items = list(read_dataset(f"fewrel-unseen-{m}", dataset_file(f"fewrel-unseen-{m}", FEWREL, "test"), OnError.STOP, "test"))
    assert len(items) == count and all(isinstance(i, RelationInstance) for i in items)
    assert len({i.relation for i in items if isinstance(i, RelationInstance)}) == m


def test_dev_relations_are_disjoint_from_the_test_relations_and_a_one_relation_dev_is_refused() -> None:
    for m, dev in ((5, 11), (10, 6)):
        test, held = split_relations(FEWREL, m, "test"), split_relations(FEWREL, m, "dev")
        assert len(held) == dev and not set(test) & set(held)
    with pytest.raises(ConfigError, match="fewrel-unseen-15's dev split has 1 relation"):
        dataset_schema("fewrel-unseen-15", None, None, FEWREL, "dev")


def test_the_schema_is_closed_set_and_the_prompt_offers_no_na_option() -> None:
    schema = dataset_schema("fewrel-unseen-5", None, None, FEWREL, "test")
    assert not schema.offers_na and schema.template_set == "zett" and len(schema.positive_relations) == 5
    assert schema.templates["crosses"] == ("{subj} crosses {obj}.",)  # ZETT's "[X] crosses [Y] ." in qa4re's form
    instance = next(i for i in read_dataset("fewrel-unseen-5", FEWREL / "val_wiki.json") if isinstance(i, RelationInstance))
    for method in ("qa4re", "vanilla", "sure"):
        prepared = PromptBuilder(schema, ExtractorConfig(method=method)).prepare(instance)
        relations = list(prepared.prompt.letter_to_relation.values())  # type: ignore[union-attr]
        assert sorted(relations) == sorted(schema.positive_relations), method
    names = dataset_schema("fewrel-unseen-5", None, "names", FEWREL, "test")
    described = dataset_schema("fewrel-unseen-5", None, "descriptions", FEWREL, "test")
    assert names.templates["crosses"] == ("{subj} crosses {obj}",)
    assert described.templates["crosses"][0].startswith("{subj} crosses {obj} (obstacle")
    with pytest.raises(ConfigError, match="one of zett, names, descriptions"):
        dataset_schema("fewrel-unseen-5", None, "temp1", FEWREL, "test")


def test_a_bad_sentence_is_an_error_record_that_keeps_its_id(tmp_path: Path) -> None:
    (tmp_path / "splits").mkdir()
    good = {"tokens": ["Alice", "married", "Bob", "."], "h": ["alice", "Q1", [[0]]], "t": ["bob", "Q2", [[2]]]}
    bad = {"tokens": ["Alice", "."], "h": ["alice", "Q1", [[0]]], "t": ["bob", "Q2", [[7]]]}
    (tmp_path / "val_wiki.json").write_text(json.dumps({"P26": [good, bad], "P40": [good]}))
    (tmp_path / "pid2name.json").write_text(json.dumps({"P26": ["spouse", "husband or wife"], "P40": ["child", "a child"]}))
    (tmp_path / "splits" / "fewrel_rel2id_5_ori.json").write_text(json.dumps({"train": {}, "eval": {}, "test": {"P26": 0, "P40": 1}}))
    (tmp_path / "zett_templates.tsv").write_text("P26\tspouse\t[X] is married to [Y] .\tdescription\r\n")  # P40: derived from its name
    schema = dataset_schema("fewrel-unseen-5", None, None, tmp_path, "test")
    assert schema.templates["spouse"] == ("{subj} is married to {obj}.",) and schema.templates["child"] == ("{subj} has the child {obj}",)
    items = list(read_dataset("fewrel-unseen-5", tmp_path / "val_wiki.json", OnError.SKIP, "test"))
    assert [type(i).__name__ for i in items] == ["RelationInstance", "ErrorRecord", "RelationInstance"]
    error = items[1]
    assert isinstance(error, ErrorRecord) and error.id == "P26:1" and error.field == "P26[1].t" and "outside the 2 tokens" in error.message
    first = items[0]
    assert isinstance(first, RelationInstance) and first.id == "P26:0" and first.subj_text == "Alice" and first.obj_text == "Bob"
    result = qa4re("evaluate", "--dataset", "fewrel-unseen-5", "--data", tmp_path, "--output", tmp_path / "o", "--model", "fake:first", check=False)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: ") and "P26[1].t" in result.stderr


def test_macro_scores_follow_both_published_conventions() -> None:
    pairs = {("a", "a"): 3, ("a", "b"): 1, ("b", "b"): 1, ("b", "a"): 1, ("c", "a"): 2}
    scores = macro_scores(pairs, ("a", "b", "c"))
    # precision a 3/6, b 1/2, c 0 (never predicted); recall a 3/4, b 1/2, c 0/2
    assert scores["macro_precision"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert scores["macro_recall"] == pytest.approx((0.75 + 0.5 + 0) / 3)
    p, r = scores["macro_precision"], scores["macro_recall"]
    assert scores["macro_f1"] == pytest.approx(2 * p * r / (p + r))
    assert scores["mean_f1"] == pytest.approx((0.6 + 0.5 + 0) / 3)


def test_evaluate_on_the_embedded_model_prints_macro_scores_with_intervals(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "fewrel-unseen-5", "--data", FEWREL, "--output", tmp_path / "o", "--limit", "6")
    assert "macro F1 (harmonic of P, R) [95% CI]" in result.stdout and "macro F1 (mean per relation) [95% CI]" in result.stdout
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_examples"] == 6 and set(metrics["macro_ci95"]) == {"macro_precision", "macro_recall", "macro_f1", "mean_f1", "accuracy"}
    predictions = [json.loads(line) for line in (tmp_path / "o" / "predictions.jsonl").read_text().splitlines()]
    assert all(p["prediction"] in {"crosses", "original language of film or TV show", "part of", "sport", "constellation"} for p in predictions)
