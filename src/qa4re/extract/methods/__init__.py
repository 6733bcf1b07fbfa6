"""Prompting methods, one module each, found by name (entry-point group ``qa4re.methods``)."""

from __future__ import annotations

from qa4re.extract.methods.base import PromptMethod, Verdict
from qa4re.registry import Registry

METHODS: Registry[type[PromptMethod]] = Registry(
    "method",
    "qa4re.methods",
    {
        "qa4re": "qa4re.extract.methods.qa4re:QA4RE",
        "vanilla": "qa4re.extract.methods.vanilla:Vanilla",
        "vanilla-temp": "qa4re.extract.methods.vanilla_temp:VanillaTemp",
        "sure": "qa4re.extract.methods.sure:SuRE",
        "nli": "qa4re.extract.methods.nli:NLI",
    },
)


def get_method(name: str) -> PromptMethod:
    """The method registered as ``name``."""
    return METHODS.get(name)()


__all__ = ["METHODS", "PromptMethod", "Verdict", "get_method"]
