"""Plumbing of the pipeline with the scripted FakeBackend (not evidence that extraction works)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import FIXTURES
from qa4re.backends.base import OptionScores, ScoreRequest
from qa4re.backends.cached import CachingBackend
from qa4re.backends.fake import FakeBackend
from qa4re.datasets import OnError, read_dataset
from qa4re.errors import BackendError, UnknownNameError
from qa4re.extract.config import UnknownTypePair
from qa4re.extract.pipeline import Extractor, ExtractorConfig, PreparedPrompt, PromptBuilder, Scoring
from qa4re.schemas.loader import load_schema
from qa4re.types import Entity, ErrorRecord, Prediction, RelationInstance

TACRED = FIXTURES / "tacred_small.json"


def items() -> list[RelationInstance | ErrorRecord]:
    return list(read_dataset("tacred", TACRED))


def last_answer(prompt: str, answers: tuple[str, ...]) -> str:
    return answers[-1]


def test_every_input_gives_one_output_in_input_order() -> None:
    extractor = Extractor(load_schema("tacred"), FakeBackend())
    outputs = list(extractor.predict(items(), chunk_size=3))
    assert [o.id for o in outputs] == [i.id for i in items()]


def test_na_is_the_last_option_and_maps_back_to_no_relation() -> None:
    extractor = Extractor(load_schema("tacred"), FakeBackend(last_answer))
    outputs = [o for o in extractor.predict(items()) if isinstance(o, Prediction)]
    assert {o.relation for o in outputs} == {"no_relation"}
    assert all(o.confidence == pytest.approx(0.9) for o in outputs)


@pytest.mark.parametrize(
    ("policy", "expected"), [(UnknownTypePair.ALL, "Prediction"), (UnknownTypePair.NA, "Prediction"), (UnknownTypePair.ERROR, "ErrorRecord")]
)
def test_unknown_type_pair_policy(policy: UnknownTypePair, expected: str) -> None:
    backend = FakeBackend()
    extractor = Extractor(load_schema("tacred"), backend, ExtractorConfig(unknown_type_pair=policy))
    out = list(extractor.predict([i for i in items() if i.id == "t7"]))[0]  # DATE:PERSON is not in TACRED's table
    assert type(out).__name__ == expected
    if policy is UnknownTypePair.ALL:
        assert isinstance(out, Prediction) and out.candidates_fallback and len(out.letter_to_relation) == 42
    if policy is UnknownTypePair.NA:
        assert isinstance(out, Prediction) and out.relation == "no_relation" and not backend.history


def test_unknown_gold_label_becomes_a_data_error_record() -> None:
    bad = RelationInstance("x", "Ann met Bob", Entity(0, 3, "PERSON"), Entity(8, 11, "PERSON"), "per:best_friend")
    out = list(Extractor(load_schema("tacred"), FakeBackend()).predict([bad]))[0]
    assert isinstance(out, ErrorRecord) and out.field == "relation" and out.kind == "data"


class FailsOn(FakeBackend):
    """Raises ``error`` for prompts that contain ``needle``."""

    def __init__(self, needle: str, error: Exception | None = None) -> None:
        super().__init__()
        self.needle = needle
        self.error = error or BackendError("boom")

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        if any(self.needle in r.prompt for r in requests):
            raise self.error
        return super().score_options(requests)


def test_a_bug_is_not_turned_into_error_records() -> None:
    with pytest.raises(KeyError):
        list(Extractor(load_schema("tacred"), FailsOn("Hamburg", KeyError("bug"))).predict(items()))


def test_a_failing_example_becomes_an_error_record_and_the_rest_go_on() -> None:
    outputs = list(Extractor(load_schema("tacred"), FailsOn("Hamburg")).predict(items()))
    errors = [o for o in outputs if isinstance(o, ErrorRecord)]
    assert [e.id for e in errors] == ["t3"] and errors[0].kind == "model" and "boom" in errors[0].message
    assert len(outputs) == len(items())


def test_cache_answers_a_rerun_without_calling_the_model(tmp_path: Path) -> None:
    fake = FakeBackend()
    first = list(Extractor(load_schema("tacred"), CachingBackend(fake, tmp_path / "c.sqlite")).predict(items()))
    calls = len(fake.history)
    cached = CachingBackend(fake, tmp_path / "c.sqlite")
    second = list(Extractor(load_schema("tacred"), cached).predict(items()))
    assert len(fake.history) == calls and cached.calls == 0
    assert [o.to_json() for o in first] == [o.to_json() for o in second]


def test_cache_key_depends_on_the_backend_fingerprint(tmp_path: Path) -> None:
    list(Extractor(load_schema("tacred"), CachingBackend(FakeBackend(fingerprint="m1"), tmp_path / "c.sqlite")).predict(items()))
    other = CachingBackend(FakeBackend(fingerprint="m2"), tmp_path / "c.sqlite")
    list(Extractor(load_schema("tacred"), other).predict(items()))
    assert other.calls > 0


def test_generate_scoring_parses_the_first_standalone_letter() -> None:
    outputs = list(Extractor(load_schema("tacred"), FakeBackend(), ExtractorConfig(scoring=Scoring.GENERATE)).predict(items()[:2]))
    assert all(isinstance(o, Prediction) and o.answer == "A" and o.scoring == "generate" for o in outputs)
    assert outputs[0].relation == "per:alternate_names"  # type: ignore[union-attr]


@pytest.mark.parametrize("logprobs", [False, "runtime"])
def test_a_backend_without_log_probabilities_is_answered_from_its_text_by_the_pipeline(logprobs: bool | str) -> None:
    """Declared (supports_logprobs False: generate) or found at run time (text results): the pipeline parses."""
    backend = FakeBackend(logprobs=logprobs)
    outputs = list(Extractor(load_schema("tacred"), backend, ExtractorConfig()).predict(items()[:2]))
    assert all(isinstance(o, Prediction) and o.scoring == "text" and o.option_probabilities == {} for o in outputs)
    assert outputs[0].relation == "per:alternate_names"  # type: ignore[union-attr]
    assert [type(r).__name__ for r in backend.history] == (["GenerateRequest"] * 2 if logprobs is False else ["ScoreRequest"] * 2)


def test_few_shot_demonstrations_come_from_the_pool_with_gold_answers() -> None:
    backend = FakeBackend()
    train = [i for i in read_dataset("tacred", FIXTURES / "tacred_train.json", OnError.STOP) if isinstance(i, RelationInstance)]
    extractor = Extractor(load_schema("tacred"), backend, ExtractorConfig(shots=1), train)
    list(extractor.predict(items()[:1]))
    prompt = backend.history[0].prompt  # type: ignore[union-attr]
    assert "Sentence: [Eva Stone] and her husband [Mark Stone]" in prompt or "Sentence: [Nina Roth] talked to [Leo Fink]" in prompt
    assert prompt.count("Determine which option") == 1


def test_vanilla_scores_the_raw_labels() -> None:
    backend = FakeBackend()
    list(Extractor(load_schema("tacred"), backend, ExtractorConfig(method="vanilla")).predict(items()[:1]))
    assert backend.history[0].answers[-1] == "no_relation"  # type: ignore[union-attr]
    assert "per:spouse" in backend.history[0].answers  # type: ignore[union-attr]


class PartlyFailingBackend(FakeBackend):
    """Fails one request per call with a per-request error; answers the others from text."""

    def __init__(self, failing_id_text: str) -> None:
        super().__init__()
        self.failing = failing_id_text

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        out = []
        for r in requests:
            self.history.append(r)
            if r.prompt == self.failing:
                out.append(OptionScores({a: float("-inf") for a in r.answers}, False, error="InternalServerError: boom"))
            else:
                out.append(OptionScores({a: (0.0 if i == 0 else float("-inf")) for i, a in enumerate(r.answers)}, False, source="text"))
        return out


def test_a_per_request_failure_is_an_error_record_not_cached_and_retried_on_rerun(tmp_path: Path) -> None:
    instances = [i for i in items() if isinstance(i, RelationInstance)]
    prepared = PromptBuilder(load_schema("tacred"), ExtractorConfig()).prepare(instances[1])
    assert isinstance(prepared, PreparedPrompt)
    failing = prepared.prompt.text
    backend = PartlyFailingBackend(failing)
    cached = CachingBackend(backend, tmp_path / "c.sqlite")
    outputs = list(Extractor(load_schema("tacred"), cached, ExtractorConfig(unknown_type_pair=UnknownTypePair.ALL)).predict(instances))
    errors = [o for o in outputs if isinstance(o, ErrorRecord)]
    assert [e.id for e in errors] == [instances[1].id] and errors[0].kind == "model" and "boom" in errors[0].message
    assert all(o.scoring == "text" for o in outputs if isinstance(o, Prediction))
    sent = len(backend.history)
    list(Extractor(load_schema("tacred"), cached, ExtractorConfig(unknown_type_pair=UnknownTypePair.ALL)).predict(instances))
    assert [r.prompt for r in backend.history[sent:]] == [r.prompt for r in backend.history[:sent] if r.prompt == failing]  # type: ignore[union-attr]


@pytest.mark.parametrize(("policy", "fallback", "rule"), [(UnknownTypePair.ALL, 1, 0), (UnknownTypePair.NA, 0, 1)])
def test_evaluation_counts_fallbacks_and_rule_decisions(tmp_path: Path, policy: UnknownTypePair, fallback: int, rule: int) -> None:
    from qa4re.evaluation.run import EvaluationSettings, evaluate

    settings = EvaluationSettings("tacred", FIXTURES / "tacred_small.json", tmp_path, config=ExtractorConfig(unknown_type_pair=policy))
    result = evaluate(settings, FakeBackend())
    assert (result.metrics.n_fallback, result.metrics.n_rule) == (fallback, rule)  # t7 (DATE:PERSON) is the fixture's one unknown pair
    report = (tmp_path / "report.md").read_text()
    assert ("offered every relation" in report) == bool(fallback) and ("decided without the model" in report) == bool(rule)


def test_a_tournament_finds_the_answer_of_the_flat_prompt_in_rounds_of_bounded_size() -> None:
    """173 WebRED options in rounds of at most 26: 7 groups of 25 candidates (+NA), then a final round."""
    from qa4re.datasets.webred import read_webred

    instance = next(i for i in read_webred(FIXTURES / "webred_small.jsonl", OnError.SKIP) if isinstance(i, RelationInstance))

    def pick_capital(prompt: str, answers: tuple[str, ...]) -> str:  # the option stating the capital, else NA (the last)
        line = next((line for line in prompt.splitlines() if line.endswith(". The capital of [Norway] is [Oslo]")), None)
        return line.split(".")[0] if line else answers[-1]

    flat, rounds = FakeBackend(pick_capital), FakeBackend(pick_capital)
    (by_flat,) = Extractor(load_schema("webred"), flat).predict([instance])
    (by_rounds,) = Extractor(load_schema("webred"), rounds, ExtractorConfig(max_options=26)).predict([instance])
    assert isinstance(by_flat, Prediction) and isinstance(by_rounds, Prediction)
    assert by_flat.relation == by_rounds.relation == "capital"
    sizes = [len(r.answers) for r in rounds.history]  # type: ignore[union-attr]
    assert len(flat.history) == 1 and sizes == [26] * 6 + [23, 2] and max(sizes) <= 26
    assert by_rounds.letter_to_relation == {"A": "capital", "B": "no_relation"}
    # a backend that tells apart only 26 letters (a served model's first-token top list) gets the same rounds unasked
    served = FakeBackend(pick_capital, max_letter_options=26)
    (by_served,) = Extractor(load_schema("webred"), served).predict([instance])
    assert isinstance(by_served, Prediction) and by_served.relation == "capital"
    assert [len(r.answers) for r in served.history] == sizes  # type: ignore[union-attr]
    # no group finds a relation: NA, from the first round, with no final round
    nothing = FakeBackend(lambda prompt, answers: answers[-1])
    (none,) = Extractor(load_schema("webred"), nothing, ExtractorConfig(max_options=26)).predict([instance])
    assert isinstance(none, Prediction) and none.relation == "no_relation" and len(nothing.history) == 7


def test_preselection_asks_only_among_the_likeliest_candidates_in_schema_order() -> None:
    """173 WebRED candidates: one SuRE-style ranking prompt (per-token scores of the filled templates),
    then one question among the 3 best, kept in schema order, with NA."""
    from qa4re.datasets.webred import read_webred

    instance = next(i for i in read_webred(FIXTURES / "webred_small.jsonl", OnError.SKIP) if isinstance(i, RelationInstance))
    liked = ("The capital of Norway is Oslo", "Norway is located in Oslo", "Oslo is the capital of Norway")

    def script(prompt: str, answers: tuple[str, ...]) -> str:
        if "Option:" not in prompt:  # the ranking prompt: its answers are the filled templates; the first liked one found wins
            return next(a for a in answers if a in liked)
        line = next((line for line in prompt.splitlines() if line.endswith(". The capital of [Norway] is [Oslo]")), None)
        return line.split(".")[0] if line else answers[-1]

    backend = FakeBackend(script)
    (prediction,) = Extractor(load_schema("webred"), backend, ExtractorConfig(preselect=3)).predict([instance])
    ranking, question = backend.history
    assert isinstance(ranking, ScoreRequest) and ranking.prompt.endswith("Summary:") and len(ranking.answers) > 150
    assert isinstance(question, ScoreRequest) and len(question.answers) == 4 and "Option:" in question.prompt
    assert isinstance(prediction, Prediction) and prediction.relation == "capital"
    kept = list(prediction.letter_to_relation.values())
    assert kept == [*(r for r in load_schema("webred").positive_relations if r in kept), "no_relation"] and "capital" in kept


def test_preselection_ranks_with_the_method_it_names() -> None:
    """``preselect_by`` is a method's registry name: here vanilla's label prompt ranks the candidates."""
    from qa4re.datasets.webred import read_webred

    instance = next(i for i in read_webred(FIXTURES / "webred_small.jsonl", OnError.SKIP) if isinstance(i, RelationInstance))

    def script(prompt: str, answers: tuple[str, ...]) -> str:
        if "Option:" not in prompt:  # the ranking prompt: relation labels as answers
            return "capital" if "capital" in answers else answers[0]
        line = next((line for line in prompt.splitlines() if line.endswith(". The capital of [Norway] is [Oslo]")), None)
        return line.split(".")[0] if line else answers[-1]

    backend = FakeBackend(script)
    (prediction,) = Extractor(load_schema("webred"), backend, ExtractorConfig(preselect=3, preselect_by="vanilla")).predict([instance])
    ranking, question = backend.history
    assert isinstance(ranking, ScoreRequest) and "capital" in ranking.answers and len(ranking.answers) > 150
    assert isinstance(question, ScoreRequest) and len(question.answers) == 4
    assert isinstance(prediction, Prediction) and prediction.relation == "capital"
    with pytest.raises(UnknownNameError, match="Did you mean: vanilla"):
        ExtractorConfig(preselect=3, preselect_by="vanila")
