"""Time QA4RE scoring against bare forward passes over the same prompts.

Usage (after `make install`):
    .venv/bin/python bench/forward_bound.py --data ../shared/data/semeval2010_task8 --limit 200

Prints, for the same seeded SemEval test sample and the embedded model:
  ours            the full pipeline (prompt building, tokenization, scoring, decoding), no cache
  plain forward   one unbatched forward pass per prompt (full logits), nothing else
  batched bound   bare batched forward passes over the same batches (last-position logits only)
and the ratios ours / plain forward and ours / batched bound (lower is better; 1.0 = no overhead).
Model loading is excluded from every timing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from qa4re.backends.base import ScoreRequest
from qa4re.backends.transformers import TransformersBackend
from qa4re.datasets import dataset_file, read_dataset, sample_positions
from qa4re.evaluation.run import sampled
from qa4re.extract.pipeline import Extractor, PreparedPrompt
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/semeval2010_task8"))
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    path = dataset_file("semeval", args.data, "test")
    total = sum(1 for _ in read_dataset("semeval", path))
    instances = [i for i in sampled(read_dataset("semeval", path), sample_positions(total, args.limit, args.seed)) if isinstance(i, RelationInstance)]
    backend = TransformersBackend(args.model, batch_size=args.batch_size)
    extractor = Extractor(load_schema("semeval"), backend)

    start = time.perf_counter()
    outputs = list(extractor.predict(instances))
    ours = time.perf_counter() - start

    prompts = [p.prompt for p in map(extractor.prompts.prepare, instances) if isinstance(p, PreparedPrompt)]
    encoded = [backend._encode(ScoreRequest(p.text, p.answers)).prompt_ids for p in prompts]
    tokens = sum(map(len, encoded))
    with torch.inference_mode():
        start = time.perf_counter()
        for ids in encoded:
            backend.model(input_ids=torch.tensor([ids]))
        plain = time.perf_counter() - start
        ordered = sorted(encoded, key=len)
        start = time.perf_counter()
        for i in range(0, len(ordered), args.batch_size):
            ids, mask = backend._padded(ordered[i : i + args.batch_size], left=True)
            backend.model(input_ids=ids, attention_mask=mask, logits_to_keep=1)
        bound = time.perf_counter() - start

    n = len(outputs)
    print(f"model: {backend.fingerprint}")
    print(f"examples: {n}, prompt tokens: {tokens} (mean {tokens / n:.0f}), batch size {args.batch_size}, torch threads {torch.get_num_threads()}")
    print(f"ours           {ours:7.2f} s  {n / ours:6.2f} examples/s")
    print(f"plain forward  {plain:7.2f} s  {n / plain:6.2f} examples/s  (one unbatched pass per prompt)")
    print(f"batched bound  {bound:7.2f} s  {n / bound:6.2f} examples/s  (bare batched passes, same batches)")
    print(f"ratio ours / plain forward: {ours / plain:.2f}")
    print(f"ratio ours / batched bound: {ours / bound:.2f}  (fraction of bound reached: {bound / ours:.0%})")


if __name__ == "__main__":
    main()
