"""Prompting methods, one module each, found by name (entry-point group ``qa4re.methods``)."""

from __future__ import annotations

from typing import Any

from qa4re.extract.methods.base import PromptMethod, Verdict
from qa4re.extract.registries import METHODS


def method_class(name: str) -> type[PromptMethod]:
    """The class of the method registered as ``name``."""
    cls: type[PromptMethod] = METHODS.get(name)
    return cls


def get_method(name: str, own: Any = None) -> PromptMethod:
    """The method registered as ``name``, with its own options (``ExtractorConfig.own_options("method")``; None: their defaults)."""
    return method_class(name)(own)


__all__ = ["METHODS", "PromptMethod", "Verdict", "get_method", "method_class"]
