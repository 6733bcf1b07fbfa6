"""Candidate selectors, one module each, found by name (entry-point group ``qa4re.selectors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa4re.registry import Registry

if TYPE_CHECKING:
    from qa4re.extract.selectors.base import Selector

SELECTORS: Registry[type[Selector]] = Registry(
    "selector",
    "qa4re.selectors",
    {
        "auto": "qa4re.extract.selectors.auto:Auto",
        "flat": "qa4re.extract.selectors.flat:Flat",
        "tournament": "qa4re.extract.selectors.tournament:Tournament",
        "preselect": "qa4re.extract.selectors.preselect:Preselect",
    },
)

__all__ = ["SELECTORS"]
