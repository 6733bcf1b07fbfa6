"""Pipelines as plain data: what another process needs to build the same pipeline and run a batch."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from qa4re.backends.base import Backend
from qa4re.backends.device import device_kind
from qa4re.backends.settings import BackendSettings
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.debiasers import debiaser_class
from qa4re.extract.documents import DEFAULTS, DocumentExtractor, DocumentResult, DocumentSettings
from qa4re.extract.ner import LazyPipeline
from qa4re.extract.pairs import Document
from qa4re.extract.pipeline import Extractor
from qa4re.fields import output_values
from qa4re.schemas.entity_types import IDENTITY, EntityTypeMap
from qa4re.schemas.model import RelationSchema
from qa4re.types import ErrorRecord, Item, Output, RelationInstance


@dataclass(frozen=True)
class PairRunner:
    """Relation instances -> predictions or error records."""

    backend: Backend
    extractor: Extractor

    def stream(self, items: Iterable[Item]) -> Iterator[Output]:
        return self.extractor.predict(items)


@dataclass(frozen=True)
class DocumentRunner:
    """Documents -> one result (or error record) each."""

    backend: Backend
    documents: DocumentExtractor

    def stream(self, items: Iterable[Document | ErrorRecord]) -> Iterator[DocumentResult | ErrorRecord]:
        return self.documents.extract(items)


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class ExtractorSpec:
    """Relation instances -> predictions (``qa4re evaluate`` and ``qa4re predict``)."""

    schema: RelationSchema
    config: ExtractorConfig
    model: BackendSettings
    demonstrations: tuple[RelationInstance, ...] = ()

    @property
    def key(self) -> str:
        # What decides the outputs (not the cache path, prices or retries): the settings declared to.
        return _digest("pairs", self.schema, output_values(self.config), output_values(self.model), self.demonstrations)

    @property
    def unit(self) -> int:
        """Items the pipeline scores together (a batch split at these boundaries scores the same)."""
        return self.model.effective_batch_size() * 4

    @property
    def gpus(self) -> float:
        """GPUs a worker of this pipeline needs: one when the model is asked to run on CUDA."""
        return 1.0 if self.model.local and device_kind(self.model.device) == "cuda" else 0.0

    @property
    def unsplittable(self) -> str | None:
        """Why the stream cannot be split across workers: a debiaser that learns from its first inputs."""
        if debiaser_class(self.config.debias).stateful:
            return f"--debias {self.config.debias} learns from the first inputs of one stream"
        return None

    def extractor(self, backend: Backend) -> Extractor:
        return Extractor(self.schema, backend, self.config, self.demonstrations)

    def build(self, backend: Backend | None = None) -> PairRunner:
        """The pipeline on ``backend`` (default: the model's, with the output cache)."""
        backend = backend or self.model.build()
        return PairRunner(backend, self.extractor(backend))


@dataclass(frozen=True)
class DocumentSpec:
    """Documents -> triples and failed pairs (``qa4re extract``)."""

    pairs: ExtractorSpec
    settings: DocumentSettings = DEFAULTS
    ner: str | None = None
    entity_types: EntityTypeMap = IDENTITY
    chunk: int = 32

    @property
    def key(self) -> str:
        # Built from the settings' declared fields: a new document setting is in the key without a line here.
        return _digest("documents", self.pairs.key, output_values(self.settings), self.ner, self.entity_types)

    @property
    def unit(self) -> int:
        return self.chunk

    @property
    def gpus(self) -> float:
        return self.pairs.gpus

    @property
    def unsplittable(self) -> str | None:
        return self.pairs.unsplittable

    def build(self, backend: Backend | None = None) -> DocumentRunner:
        """The pipeline on ``backend`` (default: the model's, with the output cache)."""
        backend = backend or self.pairs.model.build()
        nlp = LazyPipeline(self.ner)
        documents = DocumentExtractor(self.pairs.extractor(backend), self.settings, nlp=nlp, entity_types=self.entity_types, chunk=self.chunk)
        return DocumentRunner(backend, documents)
