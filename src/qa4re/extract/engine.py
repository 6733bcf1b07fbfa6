"""Pipelines as plain data: what another process needs to build the same pipeline and run a batch.

An engine that runs batches elsewhere (``qa4re.integrations.ray``) ships one of these to each
worker, which builds the pipeline once (the model loaded once per worker) and runs every batch it
is given. The single-process commands run the same pipelines directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol, TypeVar

from qa4re.backends.base import Backend, Usage
from qa4re.backends.device import device_kind
from qa4re.backends.settings import BackendSettings
from qa4re.errors import ConfigError
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DocumentExtractor, DocumentResult
from qa4re.extract.ner import LazyPipeline
from qa4re.extract.pairs import Document
from qa4re.extract.pipeline import Extractor
from qa4re.fields import output_values, setting, validate
from qa4re.schemas.entity_types import IDENTITY, EntityTypeMap
from qa4re.schemas.model import RelationSchema
from qa4re.types import ErrorRecord, Item, Output, RelationInstance

I = TypeVar("I")  # noqa: E741 - an item
O = TypeVar("O")  # noqa: E741 - an output
T_contra = TypeVar("T_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class Runner(Protocol[T_contra, R_co]):
    """A built pipeline: one output per input, in input order; ``backend`` counts its model calls."""

    @property
    def backend(self) -> Backend: ...

    def stream(self, items: Iterable[T_contra]) -> Iterator[R_co]: ...


class Spec(Protocol[T_contra, R_co]):
    """How to build a :class:`Runner`. ``key`` names everything that decides its outputs; ``unit``
    is how many items it scores together (input split at multiples of it scores the same)."""

    @property
    def key(self) -> str: ...

    @property
    def unit(self) -> int: ...

    @property
    def gpus(self) -> float: ...  # GPUs each worker that runs it reserves

    def build(self, backend: Backend | None = None) -> Runner[T_contra, R_co]: ...


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


COUNTERS = ("calls", "requests", "tokens")  # what a (caching) backend counts: model calls, requests, tokens


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
    threshold: float = 0.0
    include_na: bool = False
    max_entities: int = 20
    max_pairs: int = 200
    ner: str | None = None
    entity_types: EntityTypeMap = IDENTITY
    chunk: int = 32

    @property
    def key(self) -> str:
        return _digest("documents", self.pairs.key, self.threshold, self.include_na, self.max_entities, self.max_pairs, self.ner, self.entity_types)

    @property
    def unit(self) -> int:
        return self.chunk

    @property
    def gpus(self) -> float:
        return self.pairs.gpus

    def build(self, backend: Backend | None = None) -> DocumentRunner:
        """The pipeline on ``backend`` (default: the model's, with the output cache)."""
        backend = backend or self.pairs.model.build()
        documents = DocumentExtractor(
            self.pairs.extractor(backend), threshold=self.threshold, include_na=self.include_na, max_entities=self.max_entities, max_pairs=self.max_pairs,
            nlp=LazyPipeline(self.ner), entity_types=self.entity_types, chunk=self.chunk,
        )  # fmt: skip
        return DocumentRunner(backend, documents)


class Engine(Protocol):
    """Where a spec runs: ``map`` yields every item's output in input order; the counters are the
    last run's (``calls`` None when the backend does not count)."""

    @property
    def calls(self) -> int | None: ...

    @property
    def requests(self) -> int | None: ...

    @property
    def tokens(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def usage(self) -> Usage | None: ...

    def map(self, items: Iterable[I], spec: Spec[I, O]) -> Iterator[O]: ...


class LocalEngine:
    """Runs a spec in this process, on ``backend`` when given (else the spec's model, built once)."""

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend = backend
        self._before: dict[str, int] = {}

    def map(self, items: Iterable[I], spec: Spec[I, O]) -> Iterator[O]:
        runner = spec.build(self.backend)
        self.backend = runner.backend
        self._before = {name: getattr(runner.backend, name, 0) for name in COUNTERS}
        return runner.stream(items)

    def _delta(self, name: str) -> int | None:
        return getattr(self.backend, name) - self._before.get(name, 0) if hasattr(self.backend, name) else None

    @property
    def calls(self) -> int | None:
        return self._delta("calls")

    @property
    def requests(self) -> int | None:
        return self._delta("requests")

    @property
    def tokens(self) -> int:
        return self._delta("tokens") or 0

    @property
    def fingerprint(self) -> str:
        return self.backend.fingerprint if self.backend else ""

    @property
    def usage(self) -> Usage | None:
        return getattr(self.backend, "usage", None)


class EngineKind(str, Enum):
    """Where the pipeline runs."""

    LOCAL = "local"  # this process
    RAY = "ray"  # a Ray actor pool (the ray extra)


@dataclass(frozen=True)
class EngineSettings:
    """The command line's engine options; ``work_dir`` None: the command's default next to its output."""

    kind: EngineKind = setting(EngineKind.LOCAL, "Where the pipeline runs: this process, or a Ray actor pool (the ray extra).", flag="--engine")
    address: str | None = setting(None, "--engine ray: an existing cluster (auto, ray://HOST:10001); default: a local instance.", flag="--ray-address")
    workers: int = setting(1, "--engine ray: actors, each with its own copy of the model.", minimum=1)
    block_size: int = setting(64, "--engine ray: items per task, the unit of retry and resume.", minimum=1, flag="--ray-block-size")
    work_dir: Path | None = setting(
        None, "--engine ray: staged input and finished blocks (a rerun skips them); on a cluster, a folder every node sees.", flag="--ray-work-dir"
    )
    threads: int | None = setting(
        None, "--engine ray: torch threads per actor (default: its CPUs); the single process's count gives bit-identical scores.",
        minimum=1, flag="--ray-threads",
    )  # fmt: skip
    gpus: float | None = setting(None, "--engine ray: GPUs per actor (default: 1 when --device is cuda, else 0).", minimum=0, flag="--ray-gpus")

    def __post_init__(self) -> None:
        validate(self)

    def build(self, default_work_dir: Path, backend: Backend | None = None) -> Engine:
        """The engine; ray is imported only here, and only for ``--engine ray``."""
        if self.kind is EngineKind.LOCAL:
            if self.address or self.workers != 1 or self.work_dir or self.threads or self.gpus is not None:
                raise ConfigError("--ray-address, --workers, --ray-work-dir, --ray-threads and --ray-gpus need --engine ray")
            return LocalEngine(backend)
        try:
            from qa4re.integrations.ray import RayEngine, RayOptions
        except ImportError as exc:
            raise ConfigError(f"--engine ray needs the ray extra (pip install 'qa4re[ray]'): {exc}") from None
        options = RayOptions(self.address, self.workers, self.block_size, threads=self.threads, gpus_per_worker=self.gpus)
        return RayEngine(options, self.work_dir or default_work_dir)
