"""Auto (the default): preselection when ``preselect`` is set, then tournament rounds where a prompt is too large, else flat."""

from __future__ import annotations

from collections.abc import Sequence

from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.selectors.base import Round, Selector
from qa4re.extract.selectors.by_size import by_size
from qa4re.extract.selectors.preselect import Preselect
from qa4re.types import Output


class Auto(Selector):
    """What the settings ask for: ``preselect`` first if set; rounds when ``max_options`` (or the backend's letters) are exceeded."""

    name = "auto"
    takes = ("preselect", "preselect_by", "max_options")

    def select(self, prompts: Sequence[PreparedPrompt], round: Round) -> list[Output]:
        return Preselect().select(prompts, round) if round.config.preselect else by_size(prompts, round)
