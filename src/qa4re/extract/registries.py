"""The registries of methods, debiasers and selectors: names -> import paths, nothing imported until asked.

Kept apart from the classes, so that the settings (:mod:`qa4re.extract.config`) can check a name
without importing any method. Entry-point groups: ``qa4re.methods``, ``qa4re.debiasers``,
``qa4re.selectors``. Typed access is in each package (``get_method``, ``make_debiaser``, ``make_selector``).
"""

from __future__ import annotations

from typing import Any

from qa4re.registry import Registry

METHODS: Registry[Any] = Registry(
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

DEBIASERS: Registry[Any] = Registry(
    "debias",
    "qa4re.debiasers",
    {
        "none": "qa4re.extract.debiasers.none:NoDebiasing",
        "permute": "qa4re.extract.debiasers.permute:Permute",
        "pride": "qa4re.extract.debiasers.pride:PriDe",
        "content-free": "qa4re.extract.debiasers.content_free:ContentFree",
    },
)

SELECTORS: Registry[Any] = Registry(
    "selector",
    "qa4re.selectors",
    {
        "auto": "qa4re.extract.selectors.auto:Auto",
        "flat": "qa4re.extract.selectors.flat:Flat",
        "tournament": "qa4re.extract.selectors.tournament:Tournament",
        "preselect": "qa4re.extract.selectors.preselect:Preselect",
    },
)
