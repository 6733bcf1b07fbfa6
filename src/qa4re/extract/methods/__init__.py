"""Prompting methods, one module each, found by name (entry-point group ``qa4re.methods``)."""

from __future__ import annotations

from qa4re.extract.methods.base import PromptMethod, Verdict
from qa4re.extract.registries import METHODS
from qa4re.fields import own_options


def method_class(name: str) -> type[PromptMethod]:
    """The class of the method registered as ``name``."""
    cls: type[PromptMethod] = METHODS.get(name)
    return cls


def get_method(name: str, options: str | None = None) -> PromptMethod:
    """The method registered as ``name``, with its own ``options`` (``KEY=VALUE,...``, checked against its ``Options`` class)."""
    cls = method_class(name)
    return cls(own_options(cls, options, "--method-options", f"the {name} method"))


__all__ = ["METHODS", "PromptMethod", "Verdict", "get_method", "method_class"]
