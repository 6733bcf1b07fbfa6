from __future__ import annotations

import math

import pytest

from qa4re.prompts.decode import apply_na_threshold, decide, option_probabilities, parse_label, parse_letter
from qa4re.types import Option

OPTIONS = tuple(Option(letter, f"rel-{letter}", "") for letter in "ABCDEFGHIJKLMNOPQRS")


@pytest.mark.parametrize(("text", "letter"), [("Option: C", "C"), ("B. [x] is the member of [y]", "B"), (" D", "D"), ("(E)", "E"), ("Answer is S.", "S")])
def test_first_standalone_letter_is_the_answer(text: str, letter: str) -> None:
    option = parse_letter(text, OPTIONS)
    assert option is not None and option.letter == letter


@pytest.mark.parametrize("text", ["Option:", "none of them", "Z", ""])
def test_text_without_a_valid_standalone_letter_is_unparsable(text: str) -> None:
    assert parse_letter(text, OPTIONS) is None


def test_label_parsing_takes_the_earliest_longest_label() -> None:
    options = (Option("per:title", "per:title", ""), Option("per:title_of", "per:title_of", ""), Option("no_relation", "no_relation", ""))
    assert parse_label(" per:title_of x, no_relation", options) == options[1]


def test_probabilities_are_renormalized_over_the_options() -> None:
    probs = option_probabilities({"A": math.log(0.2), "B": math.log(0.2), "C": -math.inf})
    assert probs == pytest.approx({"A": 0.5, "B": 0.5, "C": 0.0})


def test_relation_with_several_letters_sums_their_probabilities() -> None:
    options = (Option("A", "per:identity", ""), Option("B", "per:identity", ""), Option("C", "per:spouse", ""))
    decision = decide(options, {"A": math.log(0.3), "B": math.log(0.3), "C": math.log(0.4)})
    assert decision is not None
    assert (decision.answer, decision.relation) == ("C", "per:spouse")
    decision = decide(options, {"A": math.log(0.35), "B": math.log(0.25), "C": math.log(0.4)})
    assert decision is not None and decision.relation == "per:spouse"
    assert decide(options, {"A": math.log(0.5), "B": math.log(0.3), "C": math.log(0.2)}).confidence == pytest.approx(0.8)  # type: ignore[union-attr]


def test_nothing_scorable_gives_no_decision() -> None:
    assert decide(OPTIONS[:2], {"A": -math.inf, "B": -math.inf}) is None


def test_na_threshold_predicts_na_below_it_and_the_best_positive_above() -> None:
    options = (Option("A", "founder", ""), Option("B", "founder", ""), Option("C", "member", ""), Option("D", "NA", ""))
    decision = decide(options, {"A": math.log(0.2), "B": math.log(0.2), "C": math.log(0.1), "D": math.log(0.5)})
    assert decision is not None and decision.relation == "NA"
    lowered = apply_na_threshold(decision, options, "NA", 0.3)
    assert (lowered.relation, lowered.confidence, lowered.answer) == ("founder", pytest.approx(0.4), "A")
    raised = apply_na_threshold(decision, options, "NA", 0.45)
    assert (raised.relation, raised.confidence, raised.answer) == ("NA", pytest.approx(0.5), "D")
