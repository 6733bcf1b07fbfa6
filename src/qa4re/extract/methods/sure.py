"""SuRE (Lu et al. 2022): no options shown; each candidate's filled template is scored as a summary of the sentence.

A relation's score is the mean log-probability per token of its filled template (length-normalised,
so long templates are not penalised), read from the token counts the backend reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qa4re.backends.base import OptionScores
from qa4re.extract.methods.base import PromptMethod
from qa4re.prompts.options import OptionOrder, summary_options
from qa4re.schemas.model import RelationSchema
from qa4re.types import Option, RelationInstance


def per_token(scores: OptionScores) -> dict[str, float]:
    """Each answer's mean log-probability per token (unchanged where the backend reports no lengths)."""
    lengths = scores.lengths or {}
    return {a: v / max(1, lengths.get(a, 1)) for a, v in scores.logprobs.items()}


class SuRE(PromptMethod):
    """Filled templates as answers, scored per token; summed-token scores are no distribution over answers."""

    name = "sure"
    reports_letter_mass = False

    def options(self, schema: RelationSchema, instance: RelationInstance, candidates: Sequence[str], order: OptionOrder) -> tuple[Option, ...]:
        return summary_options(schema, candidates, instance.subj_text, instance.obj_text, order)

    def answer_scores(self, scores: OptionScores) -> Mapping[str, float]:
        return per_token(scores)
