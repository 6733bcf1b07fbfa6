"""Where and in what precision a local model runs: ``--device``, ``--dtype``, ``--device-map``.

A :class:`Placement` is what the user asked for (checked for spelling when it is made, without
importing torch); :func:`resolve` turns it into what a model is loaded with, on this machine,
and refuses in one line what cannot work here (``--device cuda`` without CUDA, float16 for a
T5-family model, ``--device-map`` without accelerate).

``auto`` device: CUDA when torch sees it, else the CPU (``mps`` only when asked for).
``auto`` dtype: bfloat16 on a CUDA device that supports it (else float16, or float32 for T5),
float32 on the CPU and on MPS.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Any

from qa4re.errors import BackendUnavailable, ConfigError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")  # accelerate's named strategies
# model_type values of T5-derived models: their activations exceed float16's range (65,504) and turn into inf/NaN.
T5_FAMILY = frozenset({"t5", "mt5", "umt5", "longt5", "switch_transformers", "pix2struct"})

# Requests per call and padded tokens per forward pass, by device kind (a GPU batch is not a CPU's).
BATCH_DEFAULTS = {"cpu": (8, 4096), "mps": (8, 4096), "cuda": (32, 32768)}


def device_kind(device: str) -> str:
    """``cuda:1`` -> ``cuda``; ``cpu`` and ``mps`` as they are."""
    return device.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Placement:
    """The device, dtype and device map asked for (spelling checked; availability is checked on load)."""

    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None

    def __post_init__(self) -> None:
        if not DEVICE_PATTERN.match(self.device):
            raise ConfigError(f"device '{self.device}': expected auto, cpu, cuda, cuda:N or mps")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype '{self.dtype}': expected one of {', '.join(DTYPES)}")
        if self.device_map is not None and self.device_map not in DEVICE_MAPS:
            raise ConfigError(f"device_map '{self.device_map}': expected one of {', '.join(DEVICE_MAPS)}")


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a model is loaded with here: a torch device string, a dtype name, an accelerate device map."""

    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype: str  # "float32", "bfloat16", "float16"
    device_map: str | None = None

    @property
    def kind(self) -> str:
        return device_kind(self.device)

    @property
    def tag(self) -> str:
        """Fingerprint suffix: empty for the CPU in float32 (so earlier caches stay valid), else dtype@device."""
        if self.kind == "cpu" and self.dtype == "float32" and self.device_map is None:
            return ""
        return f":{self.dtype}@{self.kind}" + (f"+map={self.device_map}" if self.device_map else "")

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA device (False, not an error, without torch)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` or ``cpu``; an explicit device this machine lacks is BackendUnavailable."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"torch {torch.__version__}" + (" (a CPU build)" if torch.version.cuda is None else "")
            raise BackendUnavailable(f"--device {device}: {build} sees no CUDA device here; use --device cpu (or auto), or a CUDA build of torch")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise BackendUnavailable(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0")
    if device == "mps" and not torch.backends.mps.is_available():
        raise BackendUnavailable("--device mps: torch sees no Apple MPS device here; use --device cpu")
    return device


def resolve(placement: Placement, model_type: str | None = None) -> Resolved:
    """The device, dtype and device map a model of ``model_type`` is loaded with on this machine."""
    import torch

    device = resolve_device(placement.device)
    kind = device_kind(device)
    t5 = model_type in T5_FAMILY
    dtype = placement.dtype
    if dtype == "auto":  # a GPU without bfloat16 gets float16, but never for T5
        dtype = ("bfloat16" if torch.cuda.is_bf16_supported() else "float32" if t5 else "float16") if kind == "cuda" else "float32"
    if dtype == "float16" and t5:
        raise ConfigError(
            f"--dtype float16: T5-family models ({model_type}) overflow in float16 (activations beyond 65,504 become inf, then NaN); "
            "use --dtype bfloat16 or float32"
        )
    if placement.device_map is not None and importlib.util.find_spec("accelerate") is None:
        raise BackendUnavailable("--device-map needs accelerate: pip install accelerate")
    return Resolved(device, dtype, placement.device_map)


def batch_defaults(device: str) -> tuple[int, int]:
    """(requests per call, padded tokens per forward pass) that suit ``device`` (``auto`` resolved here)."""
    return BATCH_DEFAULTS[("cuda" if cuda_available() else "cpu") if device == "auto" else device_kind(device)]


def load_kwargs(resolved: Resolved) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments for ``resolved`` (transformers 4.56 renamed torch_dtype to dtype)."""
    import transformers
    from packaging.version import Version

    key = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    kwargs: dict[str, Any] = {key: resolved.torch_dtype()}
    if resolved.device_map is not None:
        kwargs["device_map"] = resolved.device_map
    return kwargs


def load_placed(loader: Any, path: str, resolved: Resolved, **options: Any) -> Any:
    """``loader.from_pretrained(path)`` in ``resolved``'s dtype, on its device (or spread by its device map), in eval mode."""
    model = loader.from_pretrained(path, **load_kwargs(resolved), **options)
    if resolved.device_map is None:
        model = model.to(resolved.device)
    return model.eval()
