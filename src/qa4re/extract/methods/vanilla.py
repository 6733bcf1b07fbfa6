"""The vanilla baseline: the relation labels listed after the instruction; the model answers a label."""

from __future__ import annotations

from qa4re.extract.methods.base import PromptMethod


class Vanilla(PromptMethod):
    """Labels as options, answered by name (the paper's vanilla RE prompt)."""

    name = "vanilla"
