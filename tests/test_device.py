"""--device, --dtype and --device-map: declared once in the backend settings, checked, and carried to the loaded model from every entry point."""

from __future__ import annotations

import pytest
import torch

from qa4re.backends.device import Placement, Resolved, batch_defaults, resolve
from qa4re.backends.settings import BackendSettings
from qa4re.errors import BackendUnavailable, ConfigError

BF16_TAG = ":bfloat16@cpu"
NO_CUDA = not torch.cuda.is_available()


@pytest.mark.parametrize(("field", "value"), [("device", "gpu"), ("device", "cuda:x"), ("dtype", "fp16"), ("device_map", "everywhere")])
def test_a_misspelt_placement_is_refused_when_the_settings_are_made(field: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{field} '{value}'"):
        BackendSettings(**{field: value})


def test_auto_is_the_cpu_in_float32_without_cuda_and_keeps_earlier_fingerprints() -> None:
    if not NO_CUDA:
        pytest.skip("this machine has CUDA")
    resolved = resolve(Placement())
    assert resolved == Resolved("cpu", "float32") and resolved.tag == ""
    assert resolve(Placement("cpu", "bfloat16")).tag == BF16_TAG
    assert batch_defaults("auto") == batch_defaults("cpu") == (8, 4096) and batch_defaults("cuda:1") == (32, 32768)


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_one_clear_error(device: str) -> None:
    with pytest.raises(BackendUnavailable, match=f"--device {device}: torch .* sees no CUDA device here; use --device cpu"):
        resolve(Placement(device))


@pytest.mark.parametrize("model_type", ["t5", "mt5", "umt5"])
def test_float16_is_refused_for_t5_models_and_says_why(model_type: str) -> None:
    with pytest.raises(ConfigError, match="T5-family models .* overflow in float16"):
        resolve(Placement("cpu", "float16"), model_type)
    assert resolve(Placement("cpu", "bfloat16"), model_type).dtype == "bfloat16"
    assert resolve(Placement("cpu", "float16"), "llama").dtype == "float16"


def test_a_device_map_without_accelerate_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "accelerate" else real(name, *a))
    with pytest.raises(BackendUnavailable, match="--device-map needs accelerate"):
        resolve(Placement("cpu", device_map="auto"))
