"""Backends by name, and the one place a backend is built (imported lazily: ``import qa4re`` never imports torch).

``--model`` is ``[backend:]name``: ``openai:NAME`` for an OpenAI-compatible server, ``nli:NAME``
for an NLI model, ``llama:FILE.gguf`` for a GGUF file run by llama.cpp in process, otherwise a
local transformers model (``default``, a ``.gguf`` file, a folder or a hub id). A prefix that
looks like a backend name but is none (``opneai:gpt-4o``) is an error with a suggestion, never a
hub id.

A registered backend is a class built as ``cls(name, **options)``. It declares, as class
attributes, its ``capabilities`` (what methods it can run), ``settings``: the names of the shared
settings (:class:`~qa4re.backends.settings.SharedSettings`) it takes, and optionally ``Options``: a
dataclass of options of its own (fields made with :func:`qa4re.fields.setting`). Third-party
backends register through the entry-point group ``qa4re.backends``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from qa4re.backends.base import Backend
from qa4re.registry import Registry

BACKENDS: Registry[Any] = Registry(
    "backend",
    "qa4re.backends",
    {
        "transformers": "qa4re.backends.transformers:TransformersBackend",
        "fake": "qa4re.backends.fake:NamedFakeBackend",
        "openai": "qa4re.backends.openai_compatible:OpenAIBackend",
        "nli": "qa4re.backends.nli:NLIBackend",
        "llama": "qa4re.backends.llama:LlamaBackend",
    },
)

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
    return ModelRef(BACKENDS.check(prefix), rest)


def backend_class(model: str) -> Any:
    """The class of the backend that ``--model`` names."""
    return BACKENDS.get(parse_model(model).backend)


def build_backend(model: str, options: Mapping[str, Any]) -> Backend:
    """The backend of ``--model`` with its constructor ``options``: the one place a backend is built."""
    ref = parse_model(model)
    backend: Backend = BACKENDS.get(ref.backend)(ref.name, **options)
    return backend


def get_backend(model: str = "default", **options: Any) -> Backend:
    """Build the backend for ``--model``: ``[backend:]model``; no prefix means transformers.

    Examples: ``default`` (embedded SmolLM2), ``google/flan-t5-large``, ``./my-model``,
    ``transformers:./model.gguf``, ``openai:gpt-4o-mini`` (OpenAI-compatible HTTP API). An unknown
    prefix (``opneai:gpt-4o``) raises :class:`UnknownNameError` with a suggestion.
    """
    return build_backend(model, options)


def option_names(cls: type) -> set[str]:
    """The names of the options a backend class declares itself (its ``Options`` dataclass; none without one)."""
    options = getattr(cls, "Options", None)
    return {f.name for f in fields(options)} if options is not None and is_dataclass(options) else set()
