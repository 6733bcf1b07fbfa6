"""What a prompting method is: its options, its prompt, its requests, how it reads the answers, what it needs.

A method is one module holding one subclass of :class:`PromptMethod`, registered by name in
:data:`qa4re.extract.methods.METHODS` (or through the entry-point group ``qa4re.methods``). The
:class:`~qa4re.extract.pipeline.Extractor` asks it for each instance's options and prompt, sends
its requests, and hands it the (debiased) option probabilities to decide; it never tests which
method it runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from qa4re.backends.base import LANGUAGE_MODEL, Capability, OptionScores, ScoreRequest
from qa4re.fields import OwnsOptions
from qa4re.prompts.decode import apply_na_threshold, decide, letter_mass, parse_label
from qa4re.prompts.options import OptionOrder, label_options
from qa4re.prompts.render import Demonstration, RenderedPrompt, prompt_template, render_prompt
from qa4re.schemas.model import RelationSchema
from qa4re.types import AnswerSource, Option, RelationInstance


@dataclass(frozen=True, slots=True)
class Verdict:
    """A method's decision on one prompt: the relation, its confidence, and what it was read from."""

    relation: str
    confidence: float
    option_probabilities: dict[str, float]
    answer: str | None
    scoring: AnswerSource
    letter_mass: float | None = None


class PromptMethod(OwnsOptions):
    """A method that renders a packaged template and lets the model choose among options.

    Subclasses set ``name`` and ``template`` (a registered prompt template's versioned name; default
    ``<name>.v1``) and override what differs: the options, the answer parser, how scores are read.
    """

    name: ClassVar[str]
    template: ClassVar[str | None] = None  # the prompt template's registered name (default: "<name>.v1")
    needs: ClassVar[frozenset[Capability]] = LANGUAGE_MODEL  # runs on a backend with any of these
    letters: ClassVar[bool] = False  # answers are option letters (a backend's max_letter_options bounds a prompt)
    debiasable: ClassVar[bool] = True  # its option probabilities are a distribution a debiaser may reshape
    reports_letter_mass: ClassVar[bool] = True  # the scores are single answers, whose total probability says something
    max_new_tokens: ClassVar[int] = 32  # generation: tokens of a reply

    def options(self, schema: RelationSchema, instance: RelationInstance, candidates: Sequence[str], order: OptionOrder) -> tuple[Option, ...]:
        """The answer options of ``instance`` among ``candidates`` (default: the relation labels)."""
        return label_options(schema, candidates, order)

    def render(self, instance: RelationInstance, options: tuple[Option, ...], demonstrations: Sequence[Demonstration] = ()) -> RenderedPrompt:
        """The prompt of ``instance`` showing ``options``, after ``demonstrations``."""
        return render_prompt(prompt_template(self.template or f"{self.name}.v1"), instance, options, demonstrations)

    def request(self, prompt: RenderedPrompt, system: str | None, answer_prefix: str = "") -> ScoreRequest:
        """What the backend scores for ``prompt``."""
        return ScoreRequest(prompt.text, prompt.answers, system, answer_prefix)

    def answer_scores(self, scores: OptionScores) -> Mapping[str, float]:
        """Each answer's score from the backend's result (default: its log-probability)."""
        return scores.logprobs

    def parse(self, text: str, options: Sequence[Option]) -> Option | None:
        """The option a generated ``text`` names (default: the earliest label in it)."""
        return parse_label(text, options)

    def decide(
        self, options: Sequence[Option], probabilities: Sequence[float], scores: OptionScores, na_relation: str, na_threshold: float | None
    ) -> Verdict | None:
        """The verdict from the option ``probabilities`` by position (None: nothing scorable)."""
        decision = decide(options, {o.letter: math.log(q) if q > 0 else -math.inf for o, q in zip(options, probabilities, strict=True)})
        if decision is None:
            return None
        if na_threshold is not None:
            decision = apply_na_threshold(decision, options, na_relation, na_threshold)
        mass = letter_mass(options, scores.logprobs) if scores.source is AnswerSource.LOGPROBS and self.reports_letter_mass else None
        return Verdict(decision.relation, decision.confidence, decision.probabilities, decision.answer, scores.source, mass)
