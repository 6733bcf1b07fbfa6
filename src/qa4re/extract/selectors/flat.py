"""Flat: all candidates in one prompt (the paper's setting)."""

from __future__ import annotations

from qa4re.extract.selectors.base import Selector


class Flat(Selector):
    """One prompt per instance, every candidate an option."""

    name = "flat"
