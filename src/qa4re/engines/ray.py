"""Scale out on Ray Data: the same pipelines on an actor pool, one model per actor, output in input order.

Two ways in:

- :class:`RayEngine` runs a pipeline :class:`~qa4re.engines.base.Spec` over a stream of items for the
  command line (``--engine ray``). The driver stages the input in blocks under a work folder; a Ray
  Dataset of block references goes through ``map_batches`` on an actor pool; each finished block's
  outputs are written there too, so a rerun after a killed worker or driver skips finished blocks
  without building a model, on whichever machine it runs (the work folder must be one every node
  sees). Ray retries a block whose actor died; its outputs are written once (atomic rename) and
  reach the driver once, in block order.
- :func:`map_dataset` turns a Ray Dataset whose ``item`` column holds relation instances (or
  documents) into one with their outputs, for pipelines that are already Ray Data programs.

Importing this module imports ray; nothing on the single-process path imports it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Generic, TypeVar

import ray
import ray.data

from qa4re.engines import blocks
from qa4re.engines.base import COUNTERS, Runner, Spec
from qa4re.engines.specs import DocumentSpec, ExtractorSpec
from qa4re.errors import BackendUnavailable, ConfigError, Qa4reError
from qa4re.types import ErrorKind, ErrorRecord

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray.

    Attributes:
        address: an existing cluster (``auto``, ``ray://HOST:10001``); None starts a local instance
            (ignored when ray is already initialised, as in a notebook or a test).
        workers: actors in the pool; each loads the model once.
        block_size: items per task, the unit of retry and resume; rounded up to a multiple of the
            pipeline's own batch unit so every item is scored with the same neighbours as in one process.
        cpus_per_worker: CPUs each actor reserves; None: this machine's CPUs shared among the
            workers on a local instance, 1 on a cluster.
        threads: torch threads per actor; None: its CPUs. Scores are bit-identical to a single
            process only with the same thread count (a matrix product sums in another order with
            another count: probabilities then differ around the sixth decimal).
        gpus_per_worker: GPUs each actor reserves (Ray sets its CUDA_VISIBLE_DEVICES); None: one
            when the pipeline's model is asked to run on CUDA (``device: cuda``), else none.
    """

    address: str | None = None
    workers: int = 1
    block_size: int = 64
    cpus_per_worker: float | None = None
    threads: int | None = None
    gpus_per_worker: float | None = None


def block_rows(options: RayOptions, spec: Spec[Any, Any]) -> int:
    """Items per task: ``options.block_size`` rounded up to a multiple of the spec's scoring unit."""
    return math.ceil(max(1, options.block_size) / spec.unit) * spec.unit


def ensure_ray(options: RayOptions) -> None:
    """Connect to the cluster, or start a local instance, unless ray is already initialised."""
    if ray.is_initialized():
        return
    if options.address:
        ray.init(address=options.address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _gpus(options: RayOptions, spec: Spec[Any, Any]) -> float:
    return spec.gpus if options.gpus_per_worker is None else options.gpus_per_worker


def _cpus(options: RayOptions) -> float:
    if options.cpus_per_worker is not None:
        return options.cpus_per_worker
    if options.address:
        return 1.0
    cpus: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return float(max(1, int(cpus.get("CPU", 1)) // max(1, options.workers)))


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


class _Built(Generic[T, R]):
    """The runner of one actor, built on first need (an actor whose blocks are all finished loads no model)."""

    def __init__(self, spec: Spec[T, R], threads: int) -> None:
        self.spec, self.threads = spec, threads
        self.runner: Runner[T, R] | None = None

    def get(self) -> Runner[T, R]:
        if self.runner is None:
            try:
                import torch

                torch.set_num_threads(max(1, self.threads))
            except ImportError:  # pragma: no cover - torch is a dependency
                pass
            self.runner = self.spec.build()
        return self.runner


def _meter(runner: Runner[Any, Any]) -> tuple[int, ...]:
    return tuple(getattr(runner.backend, name, 0) for name in COUNTERS)


class _BlockWorker:
    """Ray actor: each row names a staged block; returns its outputs (a block of records) and what they cost."""

    def __init__(self, spec: Spec[Any, Any], threads: int) -> None:
        self.built: _Built[Any, Any] = _Built(spec, threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        names = ("block", "outputs", "calls", "requests", "tokens", "failure", "reused", "refused", "worker")
        columns: dict[str, list[Any]] = {name: [] for name in names}
        for block, source, done in zip(batch["block"], batch["source"], batch["done"], strict=True):
            data, cost, failure, reused, refused = self._block(Path(str(source)), Path(str(done)))
            for name, value in zip(names, (int(block), data, *cost, failure, reused, refused, os.getpid()), strict=True):
                columns[name].append(value)
        return columns

    def _block(self, source: Path, done: Path) -> tuple[bytes, tuple[int, int, int], str, bool, str]:
        """The outputs as block bytes (the fingerprint in its meta), the model calls, requests and tokens it
        took, why it failed ("": it did not), whether a finished block was reused, and why one was refused."""
        refused = ""
        if done.exists():
            data = done.read_bytes()
            try:
                blocks.decode(data, done)
                return data, (0, 0, 0), "", True, ""
            except blocks.BlockError as exc:  # tampered, truncated or foreign: recomputed, never run
                refused = str(exc)
        try:
            runner = self.built.get()
            items, _ = blocks.decode(source.read_bytes(), source)
        except Qa4reError as exc:  # a model that cannot load, a staged block that is not one: the driver says so in one line
            return b"", (0, 0, 0), str(exc), False, refused
        before = _meter(runner)
        outputs = list(runner.stream(items))
        data = blocks.encode(outputs, {"fingerprint": runner.backend.fingerprint})
        calls, requests, tokens = (after - then for after, then in zip(_meter(runner), before, strict=True))
        # A block with a failed model call is not finished: a rerun retries it (the output cache answers the rest).
        if not any(isinstance(o, ErrorRecord) and o.kind is ErrorKind.MODEL for o in outputs):
            _write_atomically(done, data)
        return data, (calls, requests, tokens), "", False, refused


class RayEngine:
    """Runs a pipeline spec over items on a Ray actor pool; yields its outputs in input order.

    After a run, ``calls``, ``requests`` and ``tokens`` are summed over the actors (finished blocks
    reused from the work folder cost nothing), ``fingerprint`` is the model's and ``usage`` None;
    ``workers`` holds the process id of each actor that returned a block, as blocks come back.
    """

    usage = None

    def __init__(self, options: RayOptions, work_dir: Path) -> None:
        self.options = options
        self.work_dir = work_dir
        self.calls = self.requests = self.tokens = 0
        self.fingerprint = ""
        self.blocks = self.reused_blocks = 0
        self.workers: set[int] = set()
        self.refused: list[str] = []  # finished blocks in the work folder that were not valid blocks (recomputed)

    def map(self, items: Iterable[T], spec: Spec[T, R]) -> Iterator[R]:
        """Every item's output, in input order (the input is staged first, then scored)."""
        if spec.unsplittable:
            raise ConfigError(f"{spec.unsplittable}; it cannot run with --engine ray")
        rows = self._stage(items, spec)  # before Ray starts: a bad work folder is one line, not a cluster start
        ensure_ray(self.options)
        self.blocks = len(rows)
        self.reused_blocks = 0  # counted as the blocks come back
        return self._run(rows, spec)

    def _stage(self, items: Iterable[T], spec: Spec[T, R]) -> list[dict[str, Any]]:
        size = block_rows(self.options, spec)
        folder = self.work_dir / spec.key
        try:
            (folder / "blocks").mkdir(parents=True, exist_ok=True)
            (folder / "done").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.work_dir}: cannot hold the Ray work folder ({exc.strerror}); give --ray-work-dir a folder") from None
        rows: list[dict[str, Any]] = []
        iterator = iter(items)
        while block := list(islice(iterator, size)):
            data = blocks.encode(block)
            name = f"{len(rows):08d}-{hashlib.sha256(data).hexdigest()[:16]}.jsonl"  # a changed input is a new block
            source = folder / "blocks" / name
            if not source.exists() or source.read_bytes() != data:  # a staged block is always exactly this input
                _write_atomically(source, data)
            rows.append({"block": len(rows), "source": str(source), "done": str(folder / "done" / name)})
        return rows

    def _run(self, rows: list[dict[str, Any]], spec: Spec[T, R]) -> Iterator[R]:
        if not rows:
            return
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        cpus = _cpus(self.options)
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            _BlockWorker, fn_constructor_args=(spec, self.options.threads or int(cpus)), batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=self.options.workers), num_cpus=cpus, num_gpus=_gpus(self.options, spec),
        )  # fmt: skip
        for expected, row in enumerate(dataset.iter_rows()):
            if int(row["block"]) != expected:  # preserve_order guarantees this; a silent reorder would corrupt the output
                raise RuntimeError(f"Ray returned block {row['block']} where block {expected} was expected")
            if row["refused"]:
                self.refused.append(str(row["refused"]))
                logging.getLogger("qa4re.ray").warning("refused %s", row["refused"])
            if row["failure"]:
                raise BackendUnavailable(str(row["failure"]))
            outputs, meta = blocks.decode(bytes(row["outputs"]), f"block {expected}")
            self.fingerprint = self.fingerprint or str(meta.get("fingerprint", ""))
            self.reused_blocks += bool(row["reused"])
            self.calls += int(row["calls"])
            self.requests += int(row["requests"])
            self.tokens += int(row["tokens"])
            self.workers.add(int(row["worker"]))
            yield from outputs


class _ItemWorker:
    """Ray actor for :func:`map_dataset`: the ``item`` column in, an ``output`` column added."""

    def __init__(self, spec: Spec[Any, Any], threads: int) -> None:
        self.built: _Built[Any, Any] = _Built(spec, threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        outputs = list(self.built.get().stream(list(batch["item"])))
        return {**batch, "output": outputs}


def map_dataset(dataset: ray.data.Dataset, spec: ExtractorSpec | DocumentSpec, options: RayOptions | None = None) -> ray.data.Dataset:
    """A Ray Dataset whose ``item`` column holds :class:`~qa4re.types.RelationInstance` (for an
    :class:`ExtractorSpec`) or :class:`~qa4re.extract.pairs.Document` objects (for a
    :class:`DocumentSpec`), with an ``output`` column added: the prediction, document result or
    error record of each row. Batches are ``options.block_size`` rows; ``options.workers`` actors."""
    options = options or RayOptions()
    cpus = _cpus(options)
    return dataset.map_batches(
        _ItemWorker, fn_constructor_args=(spec, options.threads or int(cpus)), batch_size=block_rows(options, spec),
        compute=ray.data.ActorPoolStrategy(size=options.workers), num_cpus=cpus, num_gpus=_gpus(options, spec), batch_format="pandas",
    )  # fmt: skip
