"""Tuning a model to answer multiple-choice questions by letter (``qa4re tune``).

Items come from registered sources (:data:`~qa4re.tuning.items.ITEM_SOURCES`), are rendered with
generic instructions (never QA4RE's), and are trained on with a registered objective
(:data:`~qa4re.tuning.objectives.base.OBJECTIVES`); the result is a LoRA adapter (or a model
folder) with a card, which ``--adapter`` loads wherever a model is named.
"""

from qa4re.tuning.items import ITEM_SOURCES, MCItem, SourceSpec
from qa4re.tuning.settings import TuneSettings
from qa4re.tuning.trainer import TuneReport, tune

__all__ = ["ITEM_SOURCES", "MCItem", "SourceSpec", "TuneReport", "TuneSettings", "tune"]
