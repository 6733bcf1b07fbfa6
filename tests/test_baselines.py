"""The paper's small-LM baselines as methods of the same pipeline: SuRE (summaries scored per token)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES
from helpers import SEMEVAL, qa4re, read_jsonl
from qa4re.backends.base import Capability, ScoreRequest
from qa4re.backends.fake import FakeBackend
from qa4re.backends.transformers import TransformersBackend
from qa4re.datasets import OnError, read_dataset
from qa4re.extract.pipeline import Extractor, ExtractorConfig
from qa4re.prompts.options import summary_options
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
    outputs = list(Extractor(load_schema("tacred"), backend, ExtractorConfig(method="sure")).predict(items))
    requests = [r for r in backend.history if isinstance(r, ScoreRequest)]
    assert all(r.prompt.endswith("\nSummary:") and "Options" not in r.prompt for r in requests)
    first = outputs[0]
    assert isinstance(first, Prediction) and first.answer == requests[0].answers[0] and first.letter_to_relation[first.answer] == first.relation
    assert first.letter_mass is None


@pytest.mark.model
def test_sure_reads_per_token_scores_from_the_answer_lengths_the_backend_reports(embedded_backend: TransformersBackend) -> None:
    from qa4re.extract.methods.sure import per_token

    answers = ("Anna Berg was born in Oslo", "Anna Berg has no known relations to Oslo")
    (summed,) = embedded_backend.score_options([ScoreRequest("Sentence: [Anna Berg] was born in [Oslo].\nSummary:", answers)])
    encoded = embedded_backend._encode(ScoreRequest("Sentence: [Anna Berg] was born in [Oslo].\nSummary:", answers))
    assert summed.lengths == {a: len(encoded.answer_ids[a]) for a in answers} and all(n > 3 for n in summed.lengths.values())
    mean = per_token(summed)
    for answer in answers:
        assert mean[answer] == pytest.approx(summed.logprobs[answer] / len(encoded.answer_ids[answer]), abs=1e-9)


@pytest.mark.model
def test_sure_runs_end_to_end_on_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "sure"
    qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--method", "sure", "--output", out, "--cache", tmp_path / "c.sqlite")
    records = read_jsonl(out / "predictions.jsonl")
    assert records and all(r["prediction"] == r["letter_to_relation"][r["answer"]] for r in records)
    assert all(abs(sum(r["option_probabilities"].values()) - 1) < 1e-6 for r in records)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_examples"] == len(records) and metrics["run"]["prompts_per_example"] == 1.0


def test_the_entailment_class_comes_from_the_model_config() -> None:
    from qa4re.backends.nli import entailment_index
    from qa4re.errors import BackendUnavailable

    assert entailment_index({0: "contradiction", 1: "neutral", 2: "entailment"}) == 2
    assert entailment_index({0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}) == 0
    with pytest.raises(BackendUnavailable, match="does not name one entailment class"):
        entailment_index({0: "LABEL_0", 1: "LABEL_1"})


def test_batched_entailment_equals_one_pair_at_a_time(tiny_nli: Path) -> None:
    import torch

    from qa4re.backends.nli import NLIBackend

    backend = NLIBackend(str(tiny_nli), batch_size=2)
    requests = [ScoreRequest("anna was born in oslo .", ("anna was born in the city oslo", "anna is a member of oslo", "x")),
                ScoreRequest("the engine of the car .", ("engine is the component of car",))]  # fmt: skip
    batched = backend.score_options(requests)
    for request, scores in zip(requests, batched, strict=True):
        for hypothesis in request.answers:
            encoded = backend.tokenizer(request.prompt, hypothesis, return_tensors="pt")
            with torch.inference_mode():
                alone = torch.log_softmax(backend.model(**encoded).logits[0].float(), dim=-1)[2]
            assert scores.logprobs[hypothesis] == pytest.approx(float(alone), abs=1e-5)
    assert backend.fingerprint.startswith("nli:tiny-nli:entailment=2")


ENTAILMENT = frozenset({Capability.ENTAILMENT})


def test_nli_hypotheses_and_the_na_rule_follow_ask2transformers() -> None:
    """a2t: hypothesis = template filled with the mentions; a relation's score is its best template's
    entailment probability; NA when no relation reaches the threshold (0.5 by default)."""
    schema = load_schema("tacred")
    instance = next(i for i in read_dataset("tacred", FIXTURES / "tacred_small.json", OnError.SKIP) if isinstance(i, RelationInstance))
    backend = FakeBackend(lambda prompt, answers: answers[0], capabilities=ENTAILMENT)  # 0.9 for the first hypothesis, 0.1 shared by the rest
    (picked,) = Extractor(schema, backend, ExtractorConfig(method="nli")).predict([instance])
    request = backend.history[0]
    assert isinstance(request, ScoreRequest) and request.prompt == instance.text  # the premise is the plain sentence
    assert "no_relation" not in {schema_relation for schema_relation in picked.letter_to_relation.values()}  # type: ignore[union-attr]
    assert all("[" not in h for h in request.answers)
    assert isinstance(picked, Prediction) and picked.relation == picked.letter_to_relation[request.answers[0]] and picked.confidence == pytest.approx(0.9)
    (strict,) = Extractor(schema, FakeBackend(lambda p, a: a[0], capabilities=ENTAILMENT), ExtractorConfig(method="nli", na_threshold=0.95)).predict([instance])
    assert isinstance(strict, Prediction) and strict.relation == "no_relation" and strict.confidence == pytest.approx(0.1)


@pytest.mark.model  # runs the command in a subprocess
def test_nli_runs_end_to_end_through_the_command_with_a_local_model(tiny_nli: Path, tmp_path: Path) -> None:
    out = tmp_path / "nli"
    qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--method", "nli", "--model", f"nli:{tiny_nli}", "--output", out,
          "--cache", tmp_path / "c.sqlite")  # fmt: skip
    records = read_jsonl(out / "predictions.jsonl")
    assert records and all(r["scoring"] == "entailment" and r["prediction"] in {*r["letter_to_relation"].values(), "Other"} for r in records)


def test_a_grid_runs_nli_variants_on_nli_models_only(tmp_path: Path) -> None:
    from qa4re.experiments.config import load_experiment

    config = tmp_path / "grid.yaml"
    config.write_text("name: g\nvariants: [qa4re, sure, nli]\nmodels:\n  - {name: lm, model: default}\n  - {name: entail, model: 'nli:some/folder'}\n"
                      "datasets:\n  - {dataset: semeval, data: x}\n")  # fmt: skip
    cells = [(c.model.name, c.variant.name) for c in load_experiment(config).cells()]
    assert cells == [("lm", "qa4re"), ("lm", "sure"), ("entail", "nli")]


def test_a_missing_nli_model_folder_is_named_in_one_line(tmp_path: Path) -> None:
    from qa4re.backends.nli import NLIBackend
    from qa4re.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match=r"no-such-nli: no such NLI model folder"):
        NLIBackend(str(tmp_path / "no-such-nli"))
