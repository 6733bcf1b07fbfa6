"""What a debiaser is: the extra prompts it plans per instance, what it learns from a scored batch, how it combines.

A debiaser is one module holding one subclass of :class:`Debiaser`, registered by name in
:data:`qa4re.extract.debiasers.DEBIASERS` (or through the entry-point group ``qa4re.debiasers``).
Probabilities are lists by option position of the unshifted prompt (see
:mod:`qa4re.extract.debiasers.positions`). One debiaser object serves one stream; ``stateful``
says that it learns from the stream's own inputs, so an engine that splits a stream refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from qa4re.fields import OwnsOptions

if TYPE_CHECKING:  # the settings module imports this package's registry
    from qa4re.extract.builder import InstanceView, PreparedPrompt
    from qa4re.extract.config import ExtractorConfig


class Variants(Protocol):
    """Builds another prompt of a prepared instance (the prompt builder's ``variant``)."""

    def __call__(self, prompt: PreparedPrompt, rotation: int = 0, view: InstanceView | None = None) -> PreparedPrompt: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """The prompts scored for one instance: its own (rotation 0), its shifts, and one extra prompt."""

    prompt: PreparedPrompt
    rotations: dict[int, PreparedPrompt]
    extra: PreparedPrompt | None = None
    note: Mapping[str, object] = field(default_factory=dict)  # the debiaser's own marks on this plan


ByPosition = dict[int, list[float]]  # rotation -> option probabilities by position


class Debiaser(OwnsOptions):
    """No debiasing: each instance's own prompt, its probabilities as they are."""

    name: ClassVar[str] = "none"
    stateful: ClassVar[bool] = False  # learns from the stream's own inputs (it cannot be split across workers)

    def __init__(self, config: ExtractorConfig) -> None:
        super().__init__(config.own_options("debiaser"))
        self.config = config

    def plan(self, prompts: Sequence[PreparedPrompt], variant: Variants) -> list[Plan]:
        """Which prompts each instance of a batch needs."""
        return [Plan(p, {0: p}) for p in prompts]

    def extras(self, plans: Sequence[Plan]) -> list[PreparedPrompt]:
        """The extra prompts to score with the batch, each once (default: none)."""
        return []

    def learn(self, plans: Sequence[Plan], shifted: Sequence[ByPosition | str], extras: Mapping[str, list[float] | str]) -> None:
        """See the batch's scores before any of its instances is decided (``extras`` by prompt text)."""

    def combine(self, plan: Plan, by_position: ByPosition) -> list[float] | str:
        """Probabilities of the options of ``plan.prompt`` by position, or why there are none."""
        return by_position[0]
