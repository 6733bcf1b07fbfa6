"""Cost and memory of one QA4RE prompt over a large schema: every Re-DocRED relation offered at once.

A Re-DocRED test pair whose type pair the constraints do not know falls back to all 96 relations
and NA: 97 options, letters A to CS, some of them two tokens. This prints the prompt's length, the
seconds and the peak resident memory of scoring it, against a plain forward pass over the same
tokens in the same process (the floor), and the ratios. With ``--webred FOLDER`` it then scores
the preselection's ranking prompt of WebRED test's first pair (173 filled templates, SuRE-style,
one answer tree) and prints its tokens and its peak RSS over the loaded model (peak reset first).

    .venv/bin/python bench/large_schema.py [--data ../shared/data/redocred] [--model default] [--webred ../shared/data/webred]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from qa4re.backends.base import ScoreRequest
from qa4re.backends.transformers import TransformersBackend
from qa4re.datasets import dataset_file, read_dataset
from qa4re.evaluation.memory import peak_rss_mib, reset_peak_rss
from qa4re.extract.builder import PreparedPrompt, PromptBuilder
from qa4re.extract.config import ExtractorConfig, UnknownTypePair
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/redocred"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--webred", type=Path, help="also measure a 173-template ranking prompt on this WebRED folder")
    args = parser.parse_args()
    schema = load_schema("redocred")
    builder = PromptBuilder(schema, ExtractorConfig(constraints=False, unknown_type_pair=UnknownTypePair.ALL))
    instance = next(i for i in read_dataset("redocred", dataset_file("redocred", args.data, "test")) if isinstance(i, RelationInstance))
    prepared = builder.prepare(instance)
    assert isinstance(prepared, PreparedPrompt)
    backend = TransformersBackend(args.model, batch_size=1)
    request = ScoreRequest(prepared.prompt.text, prepared.prompt.answers)
    encoded = backend._encode(request)
    two_token = sum(len(t) > 2 for t in encoded.answer_ids.values())
    loaded = peak_mib()
    with torch.inference_mode():
        started = time.perf_counter()
        backend.model(input_ids=torch.tensor([encoded.prompt_ids]), logits_to_keep=1)
        forward_s = time.perf_counter() - started
    forward_peak = peak_mib()
    started = time.perf_counter()
    (scores,) = backend.score_options([request])
    score_s = time.perf_counter() - started
    score_peak = peak_mib()
    best = max(scores.logprobs, key=scores.logprobs.__getitem__)
    print(f"model {backend.fingerprint}")
    print(f"prompt: {len(encoded.prompt_ids)} tokens, {len(request.answers)} options ({two_token} letters of two tokens), best {best}")
    print(f"peak RSS: after loading {loaded:.0f} MiB, after a plain forward pass {forward_peak:.0f} MiB, after scoring {score_peak:.0f} MiB")
    print(f"seconds: plain forward pass {forward_s:.2f}, scoring all options {score_s:.2f} (ratio {score_s / forward_s:.2f})")
    print(f"scoring's extra peak over the forward pass: {score_peak - forward_peak:.0f} MiB; target: peak under 2048 MiB -> "
          f"{'met' if score_peak < 2048 else 'NOT met'}")  # fmt: skip
    if args.webred:
        ranking(backend, args.webred)


def ranking(backend: TransformersBackend, folder: Path) -> None:
    """The preselection's ranking prompt of one WebRED pair: every relation's filled templates in one answer tree."""
    schema = load_schema("webred")
    path = dataset_file("webred", folder, "test")
    instance = next(i for i in read_dataset("webred", path, split="test") if isinstance(i, RelationInstance))
    prepared = PromptBuilder(schema, ExtractorConfig(method="sure")).prepare(instance)
    assert isinstance(prepared, PreparedPrompt)
    reset_peak_rss()
    before = peak_rss_mib()
    (scores,) = backend.score_options([ScoreRequest(prepared.prompt.text, prepared.prompt.answers, per_token=True)])
    print(f"ranking prompt (WebRED, {len(prepared.prompt.answers)} templates): {scores.tokens} tokens run; "
          f"peak RSS {peak_rss_mib():.0f} MiB over {before:.0f} MiB before it")  # fmt: skip


if __name__ == "__main__":
    main()
