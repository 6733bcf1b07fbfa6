"""The engine seam: a pipeline spec is plain data another process can build; an engine runs one over a stream.

An engine that runs batches elsewhere (:mod:`qa4re.engines.ray`) ships a :class:`Spec` to each
worker, which builds the pipeline once (the model loaded once per worker) and runs every batch it
is given. The single-process commands run the same pipelines in :mod:`qa4re.engines.local`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from qa4re.backends.base import Backend, Usage

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

    @property
    def unsplittable(self) -> str | None: ...  # why its stream cannot be split across workers (None: it can)

    def build(self, backend: Backend | None = None) -> Runner[T_contra, R_co]: ...


COUNTERS = ("calls", "requests", "tokens")  # what a (caching) backend counts: model calls, requests, tokens


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
