"""Backend settings, parsed once: which backend a ``--model`` names, and the options it takes.

``--model`` is ``[backend:]name``: ``openai:NAME`` for an OpenAI-compatible server, ``nli:NAME``
for an NLI model (the NLI baseline), ``llama:FILE.gguf`` for a GGUF file run by llama.cpp in
process, otherwise a local transformers model (``default``, a ``.gguf`` file, a folder or a hub
id). A prefix that looks like a backend name but is none (``opneai:gpt-4o``) is an error with a
suggestion, never a hub id.

Where a local model runs (``device``, ``dtype``, ``device_map``) is declared here once and checked
for spelling when the settings are made; whether this machine has the device is checked when the
model loads (:mod:`qa4re.backends.device`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa4re.backends.base import Backend
from qa4re.backends.cached import CachingBackend
from qa4re.backends.device import Placement, batch_defaults
from qa4re.backends.embedded import cache_dir
from qa4re.backends.registry import BACKENDS, backend_class
from qa4re.errors import UnknownNameError

_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(?!//)(.+)$")  # "openai:gpt-4o", not "http://..." or "C:\\..."


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed ``--model``: the backend's registry name and the model it loads."""

    backend: str
    name: str


def parse_model(model: str) -> ModelRef:
    """``openai:gpt-4o`` -> (openai, gpt-4o); ``./m.gguf``, ``org/name``, ``default`` -> transformers."""
    match = _PREFIX.match(model)
    if match is None or Path(model).exists():
        return ModelRef("transformers", model)
    prefix, rest = match.groups()
    if prefix not in BACKENDS:
        raise UnknownNameError("backend", prefix, BACKENDS)
    return ModelRef(prefix, rest)


LOCAL_BACKENDS = ("transformers", "nli", "llama")


@dataclass(frozen=True)
class BackendSettings:
    """Which model to load and how to call it; everything the CLI's model options carry."""

    model: str = "default"
    batch_size: int | None = None  # None: what suits the device (8 on a CPU, 32 on CUDA)
    chat_template: bool | None = None
    cache: Path | None = None  # model-output cache (SQLite); None: $QA4RE_CACHE_DIR/outputs.sqlite
    # Local models (transformers, nli, llama):
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16 (transformers, nli)
    device_map: str | None = None  # accelerate: auto | balanced | balanced_low_0 | sequential (transformers, nli)
    threads: int | None = None  # llama: CPU threads (None: every core this process may use)
    # OpenAI-compatible servers (``openai:<name>``) only:
    base_url: str | None = None
    api: str = "chat"
    concurrency: int = 4
    timeout: float = 60.0
    max_retries: int = 5
    letter_tokenizer: str | None = None  # the served model's tokenizer, for logit_bias on the letters
    price_per_million_input: float | None = None  # for the cost estimate in metrics.json
    price_per_million_output: float | None = None

    def __post_init__(self) -> None:
        self.placement  # noqa: B018 - a misspelt device, dtype or device map fails here, before any model loads

    @property
    def placement(self) -> Placement:
        return Placement(self.device, self.dtype, self.device_map)

    @property
    def local(self) -> bool:
        """True when the model runs in this process (the placement options apply)."""
        return parse_model(self.model).backend in LOCAL_BACKENDS

    def effective_batch_size(self) -> int:
        """Requests per backend call: ``batch_size``, or the local device's default (8 for other backends)."""
        if self.batch_size is not None:
            return self.batch_size
        return batch_defaults(self.device)[0] if self.local else 8

    def options(self, ref: ModelRef) -> dict[str, Any]:
        """The constructor options of ``ref``'s backend."""
        options: dict[str, Any] = {}
        if ref.backend in LOCAL_BACKENDS:
            options.update(batch_size=self.batch_size, device=self.device, dtype=self.dtype, device_map=self.device_map)
            if ref.backend == "llama":
                options["threads"] = self.threads
        elif ref.backend == "openai":
            options.update(base_url=self.base_url, api=self.api, concurrency=self.concurrency, timeout=self.timeout, max_retries=self.max_retries,
                           letter_tokenizer=self.letter_tokenizer)  # fmt: skip
        if self.chat_template is not None and ref.backend not in ("fake", "nli"):
            options["chat_template"] = self.chat_template
        return options

    def backend(self) -> Backend:
        """The backend itself, without the output cache."""
        ref = parse_model(self.model)
        if ref.backend == "fake":
            return backend_class("fake")()  # type: ignore[no-any-return]
        return backend_class(ref.backend)(ref.name, **self.options(ref))  # type: ignore[no-any-return]

    def build(self) -> CachingBackend:
        """The backend, wrapped in the on-disk output cache."""
        return CachingBackend(self.backend(), self.cache or cache_dir() / "outputs.sqlite")
