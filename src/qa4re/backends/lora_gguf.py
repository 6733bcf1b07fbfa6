"""A peft LoRA adapter written as a llama.cpp LoRA GGUF (what ``llama_cpp.Llama(lora_path=...)`` loads).

The file holds ``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha`` and, for
each adapted weight, ``<gguf tensor name>.lora_a`` (peft's A, rank x in) and ``.lora_b`` (peft's B,
out x rank), as llama.cpp's own ``convert_lora_to_gguf.py`` writes them. llama.cpp stores the query
and key weights of ``llama``-architecture models with their rows permuted for its RoPE layout, so B
of those two gets the same permutation. The file is written once per adapter (by its weights'
digest) under ``$QA4RE_CACHE_DIR/adapters``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from qa4re.backends.adapters import adapter_folder, weights_digest
from qa4re.backends.embedded import cache_dir
from qa4re.errors import BackendUnavailable

# Hugging Face module name -> GGUF tensor name, inside block N.
MODULES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}  # fmt: skip
PEFT_NAME = re.compile(r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def _field(reader: Any, key: str) -> Any:
    field = reader.fields[key]
    return field.contents() if hasattr(field, "contents") else field.parts[field.data[0]][0]


def permute(weights: Any, heads: int) -> Any:
    """llama.cpp's row order for the query/key outputs of a ``llama`` model (``convert_hf_to_gguf``'s permute)."""
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def lora_gguf(adapter: str, base_gguf: Path) -> Path:
    """The llama.cpp LoRA GGUF of ``adapter`` for the model in ``base_gguf``, written on first use."""
    import gguf
    from safetensors.numpy import load_file

    folder = adapter_folder(adapter)
    target = cache_dir() / "adapters" / f"{weights_digest(folder)[:32]}-{base_gguf.stem}.gguf"
    if target.is_file():
        return target
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    reader = gguf.GGUFReader(str(base_gguf))
    arch = str(_field(reader, "general.architecture"))
    heads = {"attn_q": int(_field(reader, f"{arch}.attention.head_count"))}
    heads["attn_k"] = int(_field(reader, f"{arch}.attention.head_count_kv")) if f"{arch}.attention.head_count_kv" in reader.fields else heads["attn_q"]
    tensors: dict[str, Any] = {}
    for name, value in load_file(str(folder / "adapter_model.safetensors")).items():
        match = PEFT_NAME.match(name)
        if match is None or match.group(2) not in MODULES:
            raise BackendUnavailable(f"--adapter {adapter}: llama.cpp cannot take the adapted weight {name}")
        block, module, which = match.groups()
        gguf_name = f"blk.{block}.{MODULES[module]}.weight"
        value = value.astype("float32")
        if which == "B" and arch == "llama" and MODULES[module] in heads:
            value = permute(value, heads[MODULES[module]])
        tensors[f"{gguf_name}.lora_{which.lower()}"] = value
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    partial.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config.get("lora_alpha", config.get("r", 8))))
    for name, value in sorted(tensors.items()):
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.rename(target)
    return target
