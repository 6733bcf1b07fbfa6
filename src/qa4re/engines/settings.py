"""The command line's engine options, declared once, and the one place an engine is built."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from qa4re.backends.base import Backend
from qa4re.engines.base import Engine
from qa4re.engines.local import LocalEngine
from qa4re.errors import ConfigError
from qa4re.fields import setting, validate


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
            from qa4re.engines.ray import RayEngine, RayOptions
        except ImportError as exc:
            raise ConfigError(f"--engine ray needs the ray extra (pip install 'qa4re[ray]'): {exc}") from None
        options = RayOptions(self.address, self.workers, self.block_size, threads=self.threads, gpus_per_worker=self.gpus)
        return RayEngine(options, self.work_dir or default_work_dir)
