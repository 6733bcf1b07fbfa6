"""Throughput of QA4RE scoring: against the naive way, the forward-pass bound, with shots, with many pairs.

Usage (after `make install`):
    .venv/bin/python bench/throughput.py --data ../shared/data/semeval2010_task8 --limit 100

Prints, for a seeded SemEval test sample and one model (default: the embedded SmolLM2):
  1. naive: one prompt at a time, greedy generation constrained to the option letters with
     `model.generate` (what the original research code does), vs ours (Extractor, no cache):
     examples/s of each and the ratio ours / naive;
  2. bound: bare batched forward passes over the same prompt tokens in the same batches (no
     prompt building, no post-processing, last-position logits only) -> fraction of the bound
     that ours reaches;
  3. few-shot: k = 0, 1, 5 demonstrations (shared per type pair, so the instruction and the
     demonstrations form a reusable prefix), time per example relative to k = 0;
  4. many pairs: one sentence with 1, 5 or 20 entity pairs, time per pair relative to the same
     number of pairs taken from separate sentences.
Sections 1 and 2 need a local transformers model; 3 and 4 run through the backend seam, so any
backend (``--model``) is measured on the same work. Model loading is excluded from every timing;
each timed run starts with an empty prefix cache.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, Backend, ScoreRequest
from qa4re.backends.registry import get_backend
from qa4re.backends.transformers import TransformersBackend, common_prefix_length, prefix_grouped_batches
from qa4re.datasets import dataset_file, read_dataset, sample_positions
from qa4re.evaluation.run import sampled
from qa4re.extract.builder import PreparedPrompt
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.pipeline import Extractor
from qa4re.schemas.loader import load_schema
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, Prediction, RelationInstance


def timed(run: Callable[[], object], backend: Backend) -> float:
    if isinstance(backend, TransformersBackend):
        backend.clear_prefix_cache()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def predict(schema: RelationSchema, backend: Backend, instances: Sequence[RelationInstance], config: ExtractorConfig | None = None,
            demos: Sequence[RelationInstance] = ()) -> list[Prediction]:  # fmt: skip
    return [o for o in Extractor(schema, backend, config, demos).predict(instances) if isinstance(o, Prediction)]


def naive_answers(backend: TransformersBackend, prompts: list[PreparedPrompt]) -> list[str]:
    """One prompt at a time: model.generate, greedy, only the option letters allowed."""
    answers = []
    with torch.inference_mode():
        for p in prompts:
            encoded = backend._encode(ScoreRequest(p.prompt.text, p.prompt.answers, DEFAULT_SYSTEM_MESSAGE))
            letters = {ids[0]: letter for letter, ids in encoded.answer_ids.items()}
            allowed = list(letters)
            out = backend.model.generate(
                input_ids=torch.tensor([encoded.prompt_ids]), attention_mask=torch.ones((1, len(encoded.prompt_ids)), dtype=torch.long),
                max_new_tokens=1, do_sample=False, prefix_allowed_tokens_fn=lambda _batch, _ids, allowed=allowed: allowed,
                pad_token_id=backend.tokenizer.pad_token_id,
            )  # fmt: skip
            answers.append(letters[int(out[0, -1])])
    return answers


def bound_seconds(backend: TransformersBackend, prompts: list[PreparedPrompt]) -> tuple[float, int]:
    """Bare batched forward passes over the prompts' tokens, in the batches ours would form."""
    encoded = [backend._encode(ScoreRequest(p.prompt.text, p.prompt.answers, DEFAULT_SYSTEM_MESSAGE)).prompt_ids for p in prompts]
    batches = prefix_grouped_batches(encoded, backend.max_batch_size, backend.token_budget, backend.min_shared_prefix)
    with torch.inference_mode():
        start = time.perf_counter()
        for batch in batches:
            ids, mask = backend._padded([encoded[i] for i in batch], left=True)
            backend.model(input_ids=ids, attention_mask=mask, logits_to_keep=1)
        return time.perf_counter() - start, sum(map(len, encoded))


WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")


def with_many_pairs(instance: RelationInstance, entities: int = 5) -> list[RelationInstance]:
    """Every ordered pair of ``entities`` mentions of one sentence: its two marked ones plus the
    first other words of 4+ letters (20 pairs for 5 mentions)."""
    spans = [instance.subj, instance.obj]
    for match in WORD.finditer(instance.text):
        if len(spans) == entities:
            break
        if all(match.end() <= s.start or match.start() >= s.end for s in spans):
            spans.append(Entity(match.start(), match.end()))
    pairs = itertools.permutations(spans, 2)
    return [RelationInstance(f"{instance.id}:{k}", instance.text, s, o, None, instance.source) for k, (s, o) in enumerate(pairs)]


def shared_fraction(backend: TransformersBackend, schema: RelationSchema, sentences: Sequence[RelationInstance]) -> float:
    """Mean share of prompt tokens that the 20 prompts of one sentence have in common."""
    builder = Extractor(schema, backend).prompts
    shares = []
    for sentence in sentences:
        prepared = [p for p in map(builder.prepare, with_many_pairs(sentence)) if isinstance(p, PreparedPrompt)]
        ids = [backend._encode(ScoreRequest(p.prompt.text, p.prompt.answers, DEFAULT_SYSTEM_MESSAGE)).prompt_ids for p in prepared]
        shared = min(common_prefix_length(ids[0], other) for other in ids[1:])
        shares.append(shared / (sum(map(len, ids)) / len(ids)))
    return sum(shares) / len(shares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/semeval2010_task8"))
    parser.add_argument("--limit", type=int, default=100, help="test examples for sections 1 to 3")
    parser.add_argument("--sentences", type=int, default=8, help="sentences for section 4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default="default")
    parser.add_argument("--sections", default="naive,bound,fewshot,pairs")
    args = parser.parse_args()
    sections = set(args.sections.split(","))

    schema = load_schema("semeval")
    test = dataset_file("semeval", args.data, "test")
    total = sum(1 for _ in read_dataset("semeval", test))
    instances = [i for i in sampled(read_dataset("semeval", test), sample_positions(total, args.limit, args.seed)) if isinstance(i, RelationInstance)]
    backend = get_backend(args.model, batch_size=args.batch_size)
    print(f"model: {backend.fingerprint}; examples: {len(instances)}; batch size {args.batch_size}; torch threads {torch.get_num_threads()}")
    predict(schema, backend, instances[:2])  # warm-up

    ours_predictions: list[Prediction] = []
    ours = timed(lambda: ours_predictions.extend(predict(schema, backend, instances)), backend)
    n = len(instances)
    print(f"\nours                 {ours:8.2f} s  {n / ours:6.2f} examples/s")
    transformers_model = isinstance(backend, TransformersBackend)
    prompts = [p for p in map(Extractor(schema, backend).prompts.prepare, instances) if isinstance(p, PreparedPrompt)]

    if "naive" in sections and transformers_model:
        answers: list[str] = []
        naive = timed(lambda: answers.extend(naive_answers(backend, prompts)), backend)  # type: ignore[arg-type]
        same = sum(a == p.answer for a, p in zip(answers, ours_predictions, strict=True))
        print(f"1. naive (generate)  {naive:8.2f} s  {n / naive:6.2f} examples/s   same answer as ours: {same}/{n}")
        print(f"   ratio ours / naive examples/s: {naive / ours:.2f}x")

    if "bound" in sections and transformers_model:
        bound, tokens = bound_seconds(backend, prompts)  # type: ignore[arg-type]
        print(f"2. forward bound     {bound:8.2f} s  {n / bound:6.2f} examples/s   ({tokens} prompt tokens, mean {tokens / n:.0f})")
        print(f"   fraction of the bound reached: {bound / ours:.0%}")

    if "fewshot" in sections:
        train = [i for i in read_dataset("semeval", dataset_file("semeval", args.data, "train")) if isinstance(i, RelationInstance)]
        seconds = {}
        for k in (0, 1, 5):
            config = ExtractorConfig(shots=k, seed=args.seed, shared_demonstrations=True)
            seconds[k] = timed(lambda config=config: predict(schema, backend, instances, config, train), backend)
        print("3. few-shot (shared demonstrations): " + ", ".join(f"k={k}: {s / n * 1000:.0f} ms/example ({s / seconds[0]:.2f}x)" for k, s in seconds.items()))

    if "pairs" in sections:
        sentences = instances[: args.sentences]
        many = {k: [p for i in sentences for p in with_many_pairs(i)[:k]] for k in (1, 5, 20)}
        separate = [p for i in instances for p in with_many_pairs(i)[:1]]
        print("4. many pairs per sentence (time per pair; 'separate' = the same number of pairs from different sentences):")
        for k, pairs in many.items():
            alone = separate[: len(pairs)] if len(separate) >= len(pairs) else separate
            together = timed(lambda pairs=pairs: predict(schema, backend, pairs), backend) / len(pairs)
            apart = timed(lambda alone=alone: predict(schema, backend, alone), backend) / len(alone)
            print(f"   {k:2d} pairs/sentence: {together * 1000:6.0f} ms/pair vs separate {apart * 1000:6.0f} ms/pair -> {together / apart:.2f}x")
        if transformers_model:
            print(f"   prompt tokens the 20 pairs of a sentence share (prefix / prompt length): {shared_fraction(backend, schema, sentences):.0%}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
