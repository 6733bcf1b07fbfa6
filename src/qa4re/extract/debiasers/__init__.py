"""Position-bias debiasers, one module each, found by name (entry-point group ``qa4re.debiasers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa4re.registry import Registry

if TYPE_CHECKING:
    from qa4re.extract.debiasers.base import Debiaser

DEBIASERS: Registry[type[Debiaser]] = Registry(
    "debias",
    "qa4re.debiasers",
    {
        "none": "qa4re.extract.debiasers.none:NoDebiasing",
        "permute": "qa4re.extract.debiasers.permute:Permute",
        "pride": "qa4re.extract.debiasers.pride:PriDe",
        "content-free": "qa4re.extract.debiasers.content_free:ContentFree",
    },
)

__all__ = ["DEBIASERS"]
