"""Permutation averaging: ``permutations`` cyclic shifts of the options, each option's probability averaged over them."""

from __future__ import annotations

from collections.abc import Sequence

from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.debiasers.base import ByPosition, Debiaser, Plan, Variants
from qa4re.extract.debiasers.positions import cyclic_shifts, permutation_average


class Permute(Debiaser):
    """``permutations - 1`` extra prompts per instance; no state."""

    name = "permute"
    takes = ("permutations",)

    def plan(self, prompts: Sequence[PreparedPrompt], variant: Variants) -> list[Plan]:
        return [shifted_plan(p, cyclic_shifts(len(p.prompt.options), self.config.permutations), variant) for p in prompts]

    def combine(self, plan: Plan, by_position: ByPosition) -> list[float] | str:
        return permutation_average(by_position) if len(by_position) > 1 else by_position[0]


def shifted_plan(prompt: PreparedPrompt, shifts: Sequence[int], variant: Variants, **note: object) -> Plan:
    """The plan scoring ``prompt`` under each of ``shifts`` (0: the prompt itself)."""
    return Plan(prompt, {r: prompt if r == 0 else variant(prompt, rotation=r) for r in shifts}, note=note)
