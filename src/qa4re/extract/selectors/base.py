"""What a candidate selector is: how an instance's candidates become the prompts that decide it.

A selector is one module holding one subclass of :class:`Selector`, registered by name in
:data:`qa4re.extract.selectors.SELECTORS` (or through the entry-point group ``qa4re.selectors``).
It works through a :class:`Round`, which the Extractor provides: ``ask`` scores prompts and
decides them (debiased), ``narrowed`` builds an instance's prompt over fewer candidates, ``score``
calls the backend directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from qa4re.backends.base import OptionScores, ScoreRequest
from qa4re.types import Output

if TYPE_CHECKING:  # the settings module imports this package's registry
    from qa4re.extract.builder import PreparedPrompt
    from qa4re.extract.config import ExtractorConfig
    from qa4re.schemas.model import RelationSchema


class Round(Protocol):
    """What a selector may do: the Extractor's scoring, narrowing and backend, for one batch."""

    @property
    def config(self) -> ExtractorConfig: ...

    @property
    def schema(self) -> RelationSchema: ...

    @property
    def size(self) -> int | None: ...  # the most options per prompt: max_options, else what the backend tells apart by letter

    def ask(self, prompts: Sequence[PreparedPrompt]) -> list[Output]: ...

    def narrowed(self, prompt: PreparedPrompt, among: tuple[str, ...]) -> PreparedPrompt: ...

    def score(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]: ...


class Selector:
    """Every candidate in one prompt per instance (no selection)."""

    name: ClassVar[str] = "flat"

    def select(self, prompts: Sequence[PreparedPrompt], round: Round) -> list[Output]:
        """One output per prompt, in order."""
        return round.ask(prompts)
