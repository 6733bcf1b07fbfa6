"""Content-free calibration (Zhao et al. 2021): the same prompt with ``N/A`` for the sentence and mentions; its answer divided out."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.debiasers.base import ByPosition, Debiaser, Plan, Variants
from qa4re.extract.debiasers.positions import divide_prior
from qa4re.types import Entity, RelationInstance

REMEMBERED = 4096  # content-free answers kept (most prompts of a schema share few)
CONTENT_FREE = "N/A"  # the content-free stand-in for the sentence and each mention (Zhao et al. 2021)


def content_free_instance(instance: RelationInstance) -> RelationInstance:
    """``instance`` with ``N/A`` for its sentence and both mentions (types kept)."""
    gap = len(CONTENT_FREE) + 1
    subj, obj = Entity(0, len(CONTENT_FREE), instance.subj.type), Entity(gap, gap + len(CONTENT_FREE), instance.obj.type)
    return replace(instance, text=f"{CONTENT_FREE} {CONTENT_FREE}", subj=subj, obj=obj)


class ContentFree(Debiaser):
    """One extra prompt per distinct content-free text; answers remembered across the stream (an
    optimisation only: forgetting one costs a model call, never a different output)."""

    name = "content-free"

    def __init__(self, config: ExtractorConfig) -> None:
        super().__init__(config)
        self._known: OrderedDict[str, list[float]] = OrderedDict()  # content-free prompt text -> probabilities

    def plan(self, prompts: Sequence[PreparedPrompt], variant: Variants) -> list[Plan]:
        return [Plan(p, {0: p}, variant(p, view=content_free_instance)) for p in prompts]

    def extras(self, plans: Sequence[Plan]) -> list[PreparedPrompt]:
        return list({q.prompt.text: q for plan in plans if (q := plan.extra) is not None and q.prompt.text not in self._known}.values())

    def learn(self, plans: Sequence[Plan], shifted: Sequence[ByPosition | str], extras: Mapping[str, list[float] | str]) -> None:
        for text, probabilities in extras.items():
            if not isinstance(probabilities, str):
                self._known[text] = probabilities
        while len(self._known) > REMEMBERED:
            self._known.popitem(last=False)

    def combine(self, plan: Plan, by_position: ByPosition) -> list[float] | str:
        assert plan.extra is not None
        prior = self._known.get(plan.extra.prompt.text)
        if prior is None:
            return "model call failed on the content-free prompt"
        return divide_prior(by_position[0], prior)
