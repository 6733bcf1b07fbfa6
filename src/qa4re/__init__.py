"""qa4re: zero-shot relation extraction as multiple-choice question answering (QA4RE).

>>> import qa4re
>>> rex = qa4re.RelationExtractor(["founded by", "chief executive of", "headquartered in"], model="default")
>>> rex("Steve Jobs and Steve Wozniak founded Apple in Cupertino.")  # doctest: +SKIP
"""

from __future__ import annotations

from qa4re.api import RelationExtractor
from qa4re.backends.base import Backend, GenerateRequest, OptionScores, ScoreRequest
from qa4re.backends.registry import get_backend
from qa4re.errors import BackendError, BackendUnavailable, ConfigError, DataError, Qa4reError, SchemaError, UnknownNameError
from qa4re.extract.config import ExtractorConfig, Scoring, UnknownTypePair
from qa4re.extract.documents import DocumentResult, DocumentSettings, PairError, Triple
from qa4re.extract.pipeline import Extractor
from qa4re.schemas.loader import list_schemas, load_schema
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, ErrorRecord, Option, Prediction, RelationInstance

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "DataError",
    "DocumentResult",
    "DocumentSettings",
    "Entity",
    "ErrorRecord",
    "Extractor",
    "ExtractorConfig",
    "GenerateRequest",
    "Option",
    "OptionScores",
    "PairError",
    "Prediction",
    "Qa4reError",
    "RelationExtractor",
    "RelationInstance",
    "RelationSchema",
    "SchemaError",
    "ScoreRequest",
    "Scoring",
    "Triple",
    "UnknownNameError",
    "UnknownTypePair",
    "get_backend",
    "list_schemas",
    "load_schema",
]
