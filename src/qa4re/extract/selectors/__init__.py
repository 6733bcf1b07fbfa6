"""Candidate selectors, one module each, found by name (entry-point group ``qa4re.selectors``)."""

from __future__ import annotations

from qa4re.extract.registries import SELECTORS
from qa4re.extract.selectors.base import Selector


def selector_class(name: str) -> type[Selector]:
    """The class of the selector registered as ``name``."""
    cls: type[Selector] = SELECTORS.get(name)
    return cls


__all__ = ["SELECTORS", "Selector", "selector_class"]
