"""Position-bias debiasers, one module each, found by name (entry-point group ``qa4re.debiasers``)."""

from __future__ import annotations

from qa4re.extract.debiasers.base import Debiaser
from qa4re.extract.registries import DEBIASERS


def debiaser_class(name: str) -> type[Debiaser]:
    """The class of the debiaser registered as ``name``."""
    cls: type[Debiaser] = DEBIASERS.get(name)
    return cls


__all__ = ["DEBIASERS", "Debiaser", "debiaser_class"]
