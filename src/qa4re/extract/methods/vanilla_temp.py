"""The vanilla baseline with each label explained by its template (the paper's "vanilla + templates")."""

from __future__ import annotations

from qa4re.extract.methods.base import PromptMethod


class VanillaTemp(PromptMethod):
    """Labels with their templates as explanations, answered by name."""

    name = "vanilla-temp"
