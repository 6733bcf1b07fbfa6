"""NLI (Sainz et al. 2021): the sentence is the premise, each positive candidate's filled template a hypothesis.

A relation's score is its best template's entailment probability; NA is predicted when no relation
reaches the threshold (``na_threshold``, default 0.5 as Ask2Transformers' zero-shot setting). Needs
a backend that scores entailment (``--model nli:NAME``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qa4re.backends.base import Capability, OptionScores
from qa4re.extract.methods.base import PromptMethod, Verdict
from qa4re.prompts.decode import best_by_relation, thresholded_relation
from qa4re.prompts.options import OptionOrder, summary_options
from qa4re.prompts.render import Demonstration, RenderedPrompt
from qa4re.schemas.model import RelationSchema
from qa4re.types import AnswerSource, Option, RelationInstance

NLI_THRESHOLD = 0.5  # Ask2Transformers' default negative_threshold


class NLI(PromptMethod):
    """Entailment of filled templates; independent probabilities, so no debiasing and no renormalising."""

    name = "nli"
    needs = frozenset({Capability.ENTAILMENT})
    debiasable = False

    def options(self, schema: RelationSchema, instance: RelationInstance, candidates: Sequence[str], order: OptionOrder) -> tuple[Option, ...]:
        # Hypotheses: the positive candidates' templates; NA is decided by the threshold.
        return tuple(o for o in summary_options(schema, candidates, instance.subj_text, instance.obj_text, order) if o.relation != schema.na_relation)

    def render(self, instance: RelationInstance, options: tuple[Option, ...], demonstrations: Sequence[Demonstration] = ()) -> RenderedPrompt:
        return RenderedPrompt(instance.text, options)  # the premise is the plain sentence

    def decide(self, options: Sequence[Option], probabilities: Sequence[float], scores: OptionScores, na_relation: str, na_threshold: float | None) -> Verdict:
        entailment = {o.letter: math.exp(scores.logprobs.get(o.letter, -math.inf)) for o in options}
        by_relation = best_by_relation(options, entailment)
        relation = thresholded_relation(by_relation, na_relation, NLI_THRESHOLD if na_threshold is None else na_threshold)
        answer = max(entailment, key=entailment.__getitem__) if relation != na_relation else None
        confidence = by_relation[relation] if answer else 1.0 - max(by_relation.values(), default=0.0)
        return Verdict(relation, confidence, entailment, answer, AnswerSource.ENTAILMENT)
