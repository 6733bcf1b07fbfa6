"""PriDe (Zheng et al. 2023): a prior over positions, estimated from all cyclic shifts of the stream's first inputs, divided out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.debiasers.base import ByPosition, Debiaser, Plan, Variants
from qa4re.extract.debiasers.permute import shifted_plan
from qa4re.extract.debiasers.positions import PositionPriors, cyclic_shifts, divide_prior, permutation_average, position_prior


class PriDe(Debiaser):
    """The first ``prior_samples`` inputs of each option count, in stream order, are scored under all their
    shifts (and answered by the average); their priors are learnt before the batch is decided, and
    divided out of every later answer with that many options."""

    name = "pride"
    stateful = True
    takes = ("prior_samples",)

    def __init__(self, config: ExtractorConfig) -> None:
        super().__init__(config)
        self.priors = PositionPriors(config.prior_samples)

    def plan(self, prompts: Sequence[PreparedPrompt], variant: Variants) -> list[Plan]:
        plans: list[Plan] = []
        planned: defaultdict[int, int] = defaultdict(int)
        for p in prompts:
            n = len(p.prompt.options)
            if n > 1 and self.priors.count(n) + planned[n] < self.priors.samples:
                planned[n] += 1
                plans.append(shifted_plan(p, cyclic_shifts(n, n), variant, estimates=True))
            else:
                plans.append(Plan(p, {0: p}))
        return plans

    def learn(self, plans: Sequence[Plan], shifted: Sequence[ByPosition | str], extras: Mapping[str, list[float] | str]) -> None:
        for plan, by_position in zip(plans, shifted, strict=True):
            if plan.note.get("estimates") and not isinstance(by_position, str):
                self.priors.add(position_prior(by_position))

    def combine(self, plan: Plan, by_position: ByPosition) -> list[float] | str:
        n = len(plan.prompt.prompt.options)
        if len(by_position) > 1:
            return permutation_average(by_position)
        return divide_prior(by_position[0], self.priors.get(n)) if n > 1 else by_position[0]
