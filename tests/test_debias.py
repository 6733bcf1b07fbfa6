"""Position-bias removal: pure functions, and the pipeline against a backend with a known position prior.

The synthetic backend below answers like a biased multiple-choice reader: log P(letter) =
log prior(position) + log content(statement). Its prior and content are known, so a test can
check that each debiasing method recovers the content (plumbing, not evidence on real models).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import pytest

from qa4re.backends.base import LANGUAGE_MODEL, GenerateRequest, OptionScores, ScoreRequest
from qa4re.errors import ConfigError
from qa4re.extract.debiasers.positions import PositionPriors, cyclic_shifts, divide_prior, permutation_average, position_prior, unrotate
from qa4re.extract.pipeline import Extractor, ExtractorConfig
from qa4re.prompts.decode import letter_mass, position_probabilities
from qa4re.prompts.options import OptionOrder, qa_options
from qa4re.schemas.loader import load_schema
from qa4re.types import Entity, Option, Prediction, RelationInstance

OPTION_LINE = re.compile(r"^([A-Z]{1,2})\. (.*)$", re.MULTILINE)


class BiasedReader:
    """log P(letter) = log prior[position] + log content(statement) - log Z; N/A prompts have flat content."""

    max_batch_size = 64
    capabilities = LANGUAGE_MODEL
    max_letter_options = None
    fingerprint = "biased-reader"

    def __init__(self, prior: Sequence[float], favourite: Callable[[str], bool], strength: float = 3.0, mass: float = 0.6) -> None:
        self.prior, self.favourite, self.strength, self.mass = list(prior), favourite, strength, mass
        self.requests: list[ScoreRequest] = []

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        results = []
        for request in requests:
            self.requests.append(request)
            statements = dict(OPTION_LINE.findall(request.prompt.rsplit("Sentence:", 1)[1]))
            content_free = "[N/A] [N/A]" in request.prompt
            weights = [self.prior[i] * (self.strength if self.favourite(statements[a]) and not content_free else 1.0) for i, a in enumerate(request.answers)]
            total = sum(weights)
            results.append(OptionScores({a: math.log(self.mass * w / total) for a, w in zip(request.answers, weights, strict=True)}))
        return results

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def semeval_instances(n: int) -> list[RelationInstance]:
    instances = []
    for i in range(n):
        text, subj, obj = f"The cup{i} holds the tea{i} .", f"cup{i}", f"tea{i}"
        spans = [Entity(text.find(m), text.find(m) + len(m), "MISC") for m in (subj, obj)]
        instances.append(RelationInstance(f"ex{i}", text, spans[0], spans[1]))
    return instances


# A prior that favours "B" strongly, as the Qwen models here do.
PRIOR = [1.0] * 19
PRIOR[1] = 40.0
# The content the reader prefers: Content-Container(e2,e1), "{subj} contains {obj}".
FAVOURITE = "Content-Container(e2,e1)"


def favourite_statement(statement: str) -> bool:
    return statement.startswith("[cup") and " contains " in statement


def run(debias: str, n: int = 12, **settings: int) -> tuple[list[Prediction], BiasedReader]:
    reader = BiasedReader(PRIOR, favourite_statement)
    config = ExtractorConfig(debias=debias, **settings)  # type: ignore[arg-type]
    outputs = list(Extractor(load_schema("semeval"), reader, config).predict(semeval_instances(n), chunk_size=5))
    assert all(isinstance(o, Prediction) for o in outputs)
    return [o for o in outputs if isinstance(o, Prediction)], reader


def test_cyclic_shifts_are_evenly_spaced_and_start_at_zero() -> None:
    assert cyclic_shifts(19, 4) == [0, 5, 10, 14]
    assert cyclic_shifts(3, 10) == [0, 1, 2]
    assert cyclic_shifts(5, 1) == [0]


def test_rotated_options_move_every_statement_and_unrotate_maps_back() -> None:
    schema = load_schema("semeval")
    plain = qa_options(schema, schema.positive_relations, "a", "b")
    shifted = qa_options(schema, schema.positive_relations, "a", "b", OptionOrder(rotation=3))
    assert [o.letter for o in shifted] == [o.letter for o in plain]
    assert [o.statement for o in shifted] == [o.statement for o in plain[3:] + plain[:3]]
    probabilities = [0.0] * len(plain)
    probabilities[0] = 1.0  # the first shown option, which is plain[3]
    assert unrotate(probabilities, 3)[3] == 1.0


def test_pure_functions_on_a_log_additive_reader() -> None:
    prior, content = [0.7, 0.2, 0.1], [0.2, 0.5, 0.3]
    by_rotation = {}
    for r in range(3):
        shown = [content[(j + r) % 3] * prior[j] for j in range(3)]
        by_rotation[r] = [w / sum(shown) for w in shown]
    assert position_prior(by_rotation) == pytest.approx(prior)
    assert divide_prior(by_rotation[0], prior) == pytest.approx(content)
    assert max(range(3), key=permutation_average(by_rotation).__getitem__) == 1
    options = [Option("A", "x", ""), Option("B", "y", "")]
    assert letter_mass(options, {"A": math.log(0.3), "B": math.log(0.2)}) == pytest.approx(0.5)
    assert position_probabilities(options, {"A": math.log(0.3), "B": math.log(0.2)}) == pytest.approx([0.6, 0.4])
    priors = PositionPriors(2)
    assert priors.get(2) == [0.5, 0.5]
    priors.add([0.8, 0.2])
    priors.add([0.6, 0.4])
    assert priors.count(2) == 2 and priors.get(2) == pytest.approx([0.7, 0.3])


def test_without_debiasing_the_biased_reader_answers_b_every_time() -> None:
    predictions, reader = run("none")
    assert {p.answer for p in predictions} == {"B"}
    assert len(reader.requests) == 12
    assert all(p.letter_mass == pytest.approx(0.6) for p in predictions)


@pytest.mark.parametrize("debias", ["permute", "pride", "content-free"])
def test_each_debiasing_method_recovers_the_content(debias: str) -> None:
    knobs = {"permute": {"permutations": 19}, "pride": {"prior_samples": 2}}.get(debias, {})
    predictions, _ = run(debias, **knobs)
    assert {p.relation for p in predictions} == {FAVOURITE}


def test_permute_costs_k_calls_per_example_and_averages_them() -> None:
    predictions, reader = run("permute", n=3, permutations=4)
    assert len(reader.requests) == 3 * 4
    assert len({r.prompt for r in reader.requests}) == 12  # every shift is a different prompt


def test_pride_estimates_on_the_first_inputs_only_then_costs_one_call() -> None:
    _, reader = run("pride", n=12, prior_samples=2)
    assert len(reader.requests) == 2 * 19 + 10


def test_content_free_scores_one_extra_prompt_per_distinct_candidate_set() -> None:
    _, reader = run("content-free", n=12)
    assert len(reader.requests) == 12 + 1
    assert sum("[N/A] [N/A]" in r.prompt for r in reader.requests) == 1


def test_answer_prefix_travels_with_every_request() -> None:
    reader = BiasedReader(PRIOR, favourite_statement)
    config = ExtractorConfig(answer_prefix="Option:", debias="permute", permutations=2)
    list(Extractor(load_schema("semeval"), reader, config).predict(semeval_instances(2)))
    assert {r.answer_prefix for r in reader.requests} == {"Option:"}


def test_a_knob_the_chosen_debiaser_or_selector_does_not_read_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^--permutations: the pride debiaser does not take this option \(permute does\)$"):
        ExtractorConfig(debias="pride", permutations=8)
    with pytest.raises(ConfigError, match=r"^--max-options: the flat selector does not take this option \(auto, tournament, preselect do\)$"):
        ExtractorConfig(selector="flat", max_options=8)
    with pytest.raises(ConfigError, match="--debias-options: the permute debiaser declares no options of its own"):
        ExtractorConfig(debias="permute", debias_options="k=1")
    assert ExtractorConfig(debias="pride", prior_samples=3).prior_samples == 3
