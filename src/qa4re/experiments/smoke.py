"""Smoke mode: run an experiment file's grid on a tiny random T5 built here, a few examples per dataset.

``qa4re experiment FILE --smoke`` keeps the file's datasets, variants, template sets and model
names, and replaces each model by the same tiny randomly initialised T5 (a real
``T5ForConditionalGeneration`` of two layers, a word-level tokenizer with the option letters),
on the CPU unless CUDA is there, in the dtype the file asks for. It proves that the grid runs end
to end (readers, prompts, the seq2seq scoring path, the report); its F1 means nothing.
"""

from __future__ import annotations

import dataclasses
import string
from pathlib import Path

from qa4re.backends.embedded import cache_dir
from qa4re.backends.settings import BackendSettings
from qa4re.experiments.config import ExperimentConfig

SMOKE_LIMIT = 8  # examples per dataset (and per dev sample)
TINY_T5 = "tiny-random-t5-v1"


def build_tiny_t5(folder: Path) -> Path:
    """A two-layer random T5 (seed 0) and a word-level tokenizer saved in ``folder`` (built once)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    words = ["<pad>", "</s>", "<unk>", *string.ascii_uppercase, *string.digits, *".,:;?!()[]-_'\"", "Option", "Sentence", "Options", "no_relation"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]", "isolated")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")  # type: ignore[no-untyped-call]
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(words), d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4, pad_token_id=0, eos_token_id=1)
    config.decoder_start_token_id = 0
    partial = folder.with_name(folder.name + ".partial")
    T5ForConditionalGeneration(config).save_pretrained(partial)
    fast.save_pretrained(partial)
    partial.rename(folder)
    return folder


def _tiny(settings: BackendSettings, model: str) -> BackendSettings:
    device = "auto" if settings.device != "cpu" else "cpu"
    return dataclasses.replace(settings, model=model, device=device, device_map=None, threads=None)


def smoke(config: ExperimentConfig, output: Path) -> ExperimentConfig:
    """``config`` with every model replaced by the tiny T5 (names kept), at most ``SMOKE_LIMIT`` examples per
    dataset, and an output cache of its own in ``output``."""
    model = str(build_tiny_t5(cache_dir() / "models" / TINY_T5))
    models = tuple(
        dataclasses.replace(
            m, backend=dataclasses.replace(m.backend, model=model, device="auto" if m.backend.device != "cpu" else "cpu", device_map=None, threads=None)
        )
        for m in config.models
    )
    datasets = tuple(
        dataclasses.replace(d, limit=min(d.limit or SMOKE_LIMIT, SMOKE_LIMIT), dev_limit=min(d.dev_limit or SMOKE_LIMIT, SMOKE_LIMIT)) for d in config.datasets
    )
    name = f"{config.name} (smoke mode: a tiny random T5, at most {SMOKE_LIMIT} examples per dataset; the F1 means nothing)"
    return dataclasses.replace(config, name=name, models=models, datasets=datasets, cache=output / "smoke-outputs.sqlite")
