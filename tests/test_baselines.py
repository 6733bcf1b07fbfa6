"""The paper's small-LM baselines as methods of the same pipeline: SuRE (summaries scored per token)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES
from helpers import SEMEVAL, qa4re, read_jsonl
from qa4re.backends.base import ScoreRequest
from qa4re.backends.fake import FakeBackend
from qa4re.backends.transformers import TransformersBackend
from qa4re.datasets import OnError, read_dataset
from qa4re.extract.pipeline import Extractor, ExtractorConfig
from qa4re.prompts.options import summary_options
from qa4re.prompts.render import Method
from qa4re.schemas.loader import load_schema
from qa4re.types import Prediction, RelationInstance


def test_sure_answers_are_the_filled_templates_with_plain_mentions_na_included() -> None:
    schema = load_schema("tacred")
    options = summary_options(schema, ("per:city_of_birth", "per:title"), "Anna Berg", "Oslo")
    assert [o.relation for o in options] == ["per:city_of_birth", "per:title", "no_relation"]
    assert options[0].letter == options[0].statement == "Anna Berg was born in the city Oslo"
    assert all("[" not in o.statement for o in options)


def test_sure_scores_the_statements_per_token_without_showing_options() -> None:
    backend = FakeBackend(lambda prompt, answers: answers[0])
    items = [i for i in read_dataset("tacred", FIXTURES / "tacred_small.json", OnError.SKIP) if isinstance(i, RelationInstance)][:2]
    outputs = list(Extractor(load_schema("tacred"), backend, ExtractorConfig(method=Method.SURE)).predict(items))
    requests = [r for r in backend.history if isinstance(r, ScoreRequest)]
    assert all(r.per_token and r.prompt.endswith("\nSummary:") and "Options" not in r.prompt for r in requests)
    first = outputs[0]
    assert isinstance(first, Prediction) and first.answer == requests[0].answers[0] and first.letter_to_relation[first.answer] == first.relation
    assert first.letter_mass is None


@pytest.mark.model
def test_per_token_scores_are_the_summed_scores_over_the_answer_length(embedded_backend: TransformersBackend) -> None:
    answers = ("Anna Berg was born in Oslo", "Anna Berg has no known relations to Oslo")
    (summed,) = embedded_backend.score_options([ScoreRequest("Sentence: [Anna Berg] was born in [Oslo].\nSummary:", answers)])
    (mean,) = embedded_backend.score_options([ScoreRequest("Sentence: [Anna Berg] was born in [Oslo].\nSummary:", answers, per_token=True)])
    encoded = embedded_backend._encode(ScoreRequest("Sentence: [Anna Berg] was born in [Oslo].\nSummary:", answers))
    for answer in answers:
        assert mean.logprobs[answer] == pytest.approx(summed.logprobs[answer] / len(encoded.answer_ids[answer]), abs=1e-5)


@pytest.mark.model
def test_sure_runs_end_to_end_on_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "sure"
    qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--method", "sure", "--output", out, "--cache", tmp_path / "c.sqlite")
    records = read_jsonl(out / "predictions.jsonl")
    assert records and all(r["prediction"] == r["letter_to_relation"][r["answer"]] for r in records)
    assert all(abs(sum(r["option_probabilities"].values()) - 1) < 1e-6 for r in records)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_examples"] == len(records) and metrics["run"]["prompts_per_example"] == 1.0
