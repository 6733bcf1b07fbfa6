"""Prompting methods, one module each, found by name (entry-point group ``qa4re.methods``)."""

from __future__ import annotations

from qa4re.extract.methods.base import PromptMethod, Verdict
from qa4re.extract.registries import METHODS


def method_class(name: str) -> type[PromptMethod]:
    """The class of the method registered as ``name``."""
    cls: type[PromptMethod] = METHODS.get(name)
    return cls


def get_method(name: str) -> PromptMethod:
    """The method registered as ``name``."""
    return method_class(name)()


__all__ = ["METHODS", "PromptMethod", "Verdict", "get_method", "method_class"]
