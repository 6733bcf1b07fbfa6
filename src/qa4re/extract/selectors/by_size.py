"""The default choice: a tournament when a prompt has more options than a round holds, else flat."""

from __future__ import annotations

from collections.abc import Sequence

from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.selectors.base import Round
from qa4re.extract.selectors.flat import Flat
from qa4re.extract.selectors.tournament import Tournament
from qa4re.types import Output


def by_size(prompts: Sequence[PreparedPrompt], round: Round) -> list[Output]:
    """Tournament rounds if any prompt has more options than ``round.size``, else every prompt as it is."""
    size = round.size
    large = size is not None and any(len(p.prompt.options) > size for p in prompts)
    return (Tournament() if large else Flat()).select(prompts, round)
