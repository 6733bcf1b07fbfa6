"""What a candidate selector is: how an instance's candidates become the prompts that decide it.

A selector is one module holding one subclass of :class:`Selector`, registered by name in
:data:`qa4re.extract.selectors.SELECTORS` (or through the entry-point group ``qa4re.selectors``).
It works through a :class:`Round`, a value the Extractor builds for each batch: ``ask`` scores
prompts and decides them (debiased), ``narrowed`` builds an instance's prompt over fewer candidates,
``score`` calls the backend directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from qa4re.backends.base import OptionScores, ScoreRequest
from qa4re.fields import OwnsOptions
from qa4re.types import Output

if TYPE_CHECKING:  # the settings module imports this package's registry
    from qa4re.extract.builder import PreparedPrompt
    from qa4re.extract.config import ExtractorConfig
    from qa4re.schemas.model import RelationSchema


@dataclass(frozen=True)
class Round:
    """What a selector may do with one batch: the settings, the schema, and the Extractor's scoring, narrowing and backend."""

    config: ExtractorConfig
    schema: RelationSchema
    size: int | None  # the most options per prompt: max_options, else what the backend tells apart by letter
    ask: Callable[[Sequence[PreparedPrompt]], list[Output]]  # score, debias and decide each prompt
    narrowed: Callable[[PreparedPrompt, tuple[str, ...]], PreparedPrompt]  # an instance's prompt among fewer candidates
    score: Callable[[Sequence[ScoreRequest]], list[OptionScores]]  # the backend itself


class Selector(OwnsOptions):
    """Every candidate in one prompt per instance (no selection)."""

    name: ClassVar[str] = "flat"

    def select(self, prompts: Sequence[PreparedPrompt], round: Round) -> list[Output]:
        """One output per prompt, in order."""
        return round.ask(prompts)
