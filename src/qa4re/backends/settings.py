"""Backend settings, each declared once: the command line's model options, a grid's model keys, the
spaCy component's config and the pipeline's cache key are built from these fields.

Which of them a backend takes is the backend's own declaration (its ``settings`` class attribute);
where a local model runs (``device``, ``dtype``, ``device_map``) is checked for spelling when the
settings are made, and whether this machine has the device when the model loads
(:mod:`qa4re.backends.device`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa4re.backends.adapters import adapter_folder
from qa4re.backends.base import Backend
from qa4re.backends.cached import CachingBackend
from qa4re.backends.device import Placement, batch_defaults
from qa4re.backends.embedded import cache_dir
from qa4re.backends.llama import LlamaOptions
from qa4re.backends.openai_compatible import OpenAIOptions
from qa4re.backends.registry import ModelRef, backend_class, build_backend, option_names, parse_model
from qa4re.backends.transformers import TransformersOptions
from qa4re.errors import ConfigError
from qa4re.fields import declared, keyword_options, setting, validate

__all__ = ["BackendSettings", "ModelRef", "parse_model"]

# Settings the pipeline itself reads, whatever the backend: which model, requests per call, the output cache, costs.
PIPELINE_SETTINGS = frozenset({"model", "batch_size", "cache", "price_per_million_input", "price_per_million_output"})


@dataclass(frozen=True)
class SharedSettings:
    """Settings more than one backend takes (each backend names those it takes in ``settings``)."""

    model: str = setting(
        "default",
        "default (embedded SmolLM2-135M-Instruct), a hub id, a folder, a .gguf file, llama:FILE.gguf (llama.cpp), openai:NAME or nli:NAME.",
        spacy=True,
    )
    batch_size: int | None = setting(None, "Prompts per forward pass (default: 8 on a CPU, 32 on CUDA).", minimum=1, spacy=True)
    chat_template: bool | None = setting(
        None, "Wrap prompts in the model's chat template (default: when it has one).", flag="--chat-template/--no-chat-template", spacy=True
    )
    cache: Path | None = setting(None, "Model-output cache file (default: $QA4RE_CACHE_DIR/outputs.sqlite).", grid=False, spacy=True, output=False)
    device: str = setting("auto", "Local models: auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps.", spacy=True)
    dtype: str = setting(
        "auto", "Local models: auto (bfloat16 on a GPU that supports it, float32 on CPU), float32, bfloat16 or float16 (refused for T5).", spacy=True
    )
    device_map: str | None = setting(
        None, "Local models: spread a model larger than one device with accelerate (auto, balanced, balanced_low_0, sequential).", spacy=True
    )
    adapter: str | None = setting(
        None, "Local transformers models: a LoRA adapter folder (from qa4re tune) merged into --model's weights; part of the fingerprint.", spacy=True
    )
    backend_options: str | None = setting(
        None, "Options the backend declares itself (its Options class, built-in or plug-in): KEY=VALUE, comma-separated, e.g. threads=2.", spacy=True
    )


@dataclass(frozen=True)
class BackendSettings(OpenAIOptions, TransformersOptions, LlamaOptions, SharedSettings):
    """Which model to load and how to call it: the shared settings, then each built-in backend's own ``Options``
    (declared in its module, composed here so that each is a flag of its own), then the cost settings."""

    price_per_million_input: float | None = setting(None, "Price per million prompt tokens, for the cost estimate.", output=False)
    price_per_million_output: float | None = setting(None, "Price per million completion tokens, for the cost estimate.", output=False)

    def __post_init__(self) -> None:
        validate(self)
        parse_model(self.model)  # an unknown backend prefix fails here, before any data is read
        self.placement  # noqa: B018 - a misspelt device, dtype or device map fails here, before any model loads
        self.refuse_unused()
        self.own_options()  # an option the backend does not declare, or a value of the wrong type, fails here
        if self.adapter is not None:
            adapter_folder(self.adapter)  # a missing folder fails here, before any data is read

    def refuse_unused(self) -> None:
        """An option set away from its default that the model's backend does not take is one line, never silently dropped."""
        cls = backend_class(self.model)
        taken = set(getattr(cls, "settings", ())) | option_names(cls)
        for d in declared(BackendSettings):
            if d.name in PIPELINE_SETTINGS or d.name in taken or d.name == "backend_options" or getattr(self, d.name) == d.default:
                continue
            backend = parse_model(self.model).backend
            flag = "--" + d.name.replace("_", "-")
            if d.name == "adapter":
                raise ConfigError(f"{flag}: the {backend} backend cannot load a LoRA adapter (local transformers models can)")
            raise ConfigError(f"{flag}: the {backend} backend does not take this option (it takes: {', '.join(sorted(taken)) or 'none'})")

    @property
    def placement(self) -> Placement:
        return Placement(self.device, self.dtype, self.device_map)

    @property
    def local(self) -> bool:
        """True when the model runs in this process (its backend takes the placement settings)."""
        return "device" in backend_class(self.model).settings

    def effective_batch_size(self) -> int:
        """Requests per backend call: ``batch_size``, or the local device's default (8 for other backends)."""
        if self.batch_size is not None:
            return self.batch_size
        return batch_defaults(self.device)[0] if self.local else 8

    def own_options(self) -> dict[str, Any]:
        """The backend's own options (its ``Options`` dataclass): those set by their flags (built-in backends'), and
        ``backend_options`` checked against the class; one option set both ways is one line."""
        cls = backend_class(self.model)
        owner = f"the {parse_model(self.model).backend} backend ({cls.__name__})"
        given = keyword_options(self.backend_options, getattr(cls, "Options", None), "--backend-options", owner)
        flags = {d.name: d for d in declared(BackendSettings)}
        values = {name: value for name in option_names(cls) if name in flags and (value := getattr(self, name)) is not None}
        for name in given:
            if name in flags and getattr(self, name) != flags[name].default:
                raise ConfigError(f"--backend-options: {name} is also set by --{name.replace('_', '-')}; give it once")
        return values | given

    def options(self) -> dict[str, Any]:
        """The constructor options of the model's backend: the shared settings it takes, where set, and its own options."""
        names = backend_class(self.model).settings
        return {name: value for name in names if (value := getattr(self, name)) is not None} | self.own_options()

    def backend(self) -> Backend:
        """The backend itself, without the output cache."""
        return build_backend(self.model, self.options())

    def build(self) -> CachingBackend:
        """The backend, wrapped in the on-disk output cache."""
        return CachingBackend(self.backend(), self.cache or cache_dir() / "outputs.sqlite")
