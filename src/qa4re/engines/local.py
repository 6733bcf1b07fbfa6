"""The local engine: a spec run in this process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from qa4re.backends.base import Backend, Usage
from qa4re.engines.base import COUNTERS, I, O, Spec


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
