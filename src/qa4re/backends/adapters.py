"""LoRA adapters on top of a local model (``--adapter FOLDER``, as ``qa4re tune`` writes them).

An adapter folder holds peft's ``adapter_config.json`` and ``adapter_model.safetensors``, and
``card.json`` when qa4re tuned it. The adapter's weights are part of the model fingerprint, so
cached outputs of the base model and of every adapter never mix. An adapter tuned on another base
model than the one named is refused (its card says which base it was tuned on).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from qa4re.errors import BackendUnavailable

CONFIG = "adapter_config.json"


def weights_digest(folder: Path) -> str:
    """SHA-256 of the ``*.safetensors`` files in ``folder``, by name and content."""
    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.safetensors")):
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def adapter_folder(adapter: str) -> Path:
    """``adapter`` as a folder holding a LoRA adapter; anything else is BackendUnavailable in one line."""
    folder = Path(adapter).expanduser()
    if not folder.is_dir():
        raise BackendUnavailable(f"--adapter {adapter}: no such folder")
    if not (folder / CONFIG).is_file():
        hint = "; a fully tuned model is --model FOLDER" if (folder / "config.json").is_file() else ""
        raise BackendUnavailable(f"--adapter {adapter}: no {CONFIG} in it (not a LoRA adapter folder{hint})")
    return folder


def adapter_tag(adapter: str) -> str:
    """The fingerprint suffix of an adapter: ``+adapter:<first 16 hex digits of its weights' SHA-256>``."""
    return f"+adapter:{weights_digest(adapter_folder(adapter))[:16]}"


def check_base(adapter: str, identity: str) -> None:
    """Refuse an adapter whose card says it was tuned on another base model than ``identity``."""
    card = adapter_folder(adapter) / "card.json"
    if not card.is_file():
        return
    base = str(json.loads(card.read_text(encoding="utf-8")).get("base_fingerprint", ""))
    if base and identity not in base:
        raise BackendUnavailable(f"--adapter {adapter}: tuned on {base}, not on this model ({identity})")


def with_adapter(model: Any, adapter: str) -> Any:
    """``model`` with the adapter's LoRA update merged into its weights (scoring then costs what the base model costs)."""
    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover - peft is a dependency
        raise BackendUnavailable(f"--adapter needs peft: {exc}") from None
    with warnings.catch_warnings():  # peft asks transformers a deprecated question (is_gradient_checkpointing) on load
        warnings.simplefilter("ignore", FutureWarning)
        return PeftModel.from_pretrained(model, str(adapter_folder(adapter))).merge_and_unload().eval()
