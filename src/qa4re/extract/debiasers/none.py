"""No debiasing (the paper's setting)."""

from __future__ import annotations

from qa4re.extract.debiasers.base import Debiaser


class NoDebiasing(Debiaser):
    """Each prompt scored once, its probabilities as they are."""

    name = "none"
