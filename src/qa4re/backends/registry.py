"""Backend names -> classes, imported lazily so ``import qa4re`` never imports torch."""

from __future__ import annotations

import importlib
from typing import Any

from qa4re.backends.base import Backend
from qa4re.errors import UnknownNameError

BACKENDS = {
    "transformers": "qa4re.backends.transformers:TransformersBackend",
    "fake": "qa4re.backends.fake:FakeBackend",
    "openai": "qa4re.backends.openai_compatible:OpenAIBackend",
    "nli": "qa4re.backends.nli:NLIBackend",
    "llama": "qa4re.backends.llama:LlamaBackend",
}


def backend_class(name: str) -> Any:
    """The backend class registered as ``name``."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    module, _, attribute = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def get_backend(model: str = "default", **options: Any) -> Backend:
    """Build the backend for ``--model``: ``[backend:]model``; no prefix means transformers.

    Examples: ``default`` (embedded SmolLM2), ``google/flan-t5-large``, ``./my-model``,
    ``transformers:./model.gguf``, ``openai:gpt-4o-mini`` (OpenAI-compatible HTTP API). An unknown
    prefix (``opneai:gpt-4o``) raises :class:`UnknownNameError` with a suggestion.
    """
    from qa4re.backends.settings import parse_model  # settings builds on this registry

    ref = parse_model(model)
    backend: Backend = backend_class("fake")() if ref.backend == "fake" else backend_class(ref.backend)(ref.name, **options)
    return backend
