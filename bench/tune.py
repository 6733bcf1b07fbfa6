"""qa4re tune's training throughput against a bare torch loop on the same tokens (the bound), and peak memory.

    .venv/bin/python bench/tune.py --items ../shared/data/mcqa/mcqa.jsonl [--steps 6] [--full] [--dtypes float32,bfloat16]

For each dtype: (1) ``tune()`` itself for ``--steps`` optimizer steps (no held-out measurement), its
loop timed by its own report (model loading excluded); (2) a bare loop: the same examples (the same
seeded item stream, so the same token ids), padded the same way, through the model's forward with
the same kept logits, cross-entropy, backward and AdamW, nothing else. Each runs in its own
process, so each peak RSS is its own. Prints items/s, tokens/s, ours/bound and bfloat16/float32.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def settings_for(args: argparse.Namespace, dtype: str) -> object:
    from qa4re.tuning.settings import TuneSettings

    return TuneSettings(model=args.model, full=args.full, steps=args.steps, batch_size=args.batch_size, eval_items=0, dtype=dtype,
                        max_tokens=args.max_tokens, max_options=args.max_options, warmup_steps=0, checkpoint_every=10_000, threads=args.threads,
                        device=args.device)  # fmt: skip


def ours(args: argparse.Namespace, dtype: str) -> dict[str, float]:
    from qa4re.tuning import SourceSpec, tune

    with tempfile.TemporaryDirectory() as folder:
        report = tune(settings_for(args, dtype), [SourceSpec("mcqa", args.items)], Path(folder), log=lambda line: None)  # type: ignore[arg-type]
    return {"items": report.items, "tokens": report.tokens, "seconds": report.seconds}


def bare(args: argparse.Namespace, dtype: str) -> dict[str, float]:
    import torch

    from qa4re.backends.device import resolve_device
    from qa4re.tuning.items import SourceSpec, read_items
    from qa4re.tuning.objectives.base import IGNORE, OBJECTIVES, padded
    from qa4re.tuning.trainer import ItemStream, _loaded_backend, _wrapped

    settings = settings_for(args, dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    per_source, _ = read_items([SourceSpec("mcqa", args.items)], "train")
    backend = _loaded_backend(settings)  # type: ignore[arg-type]
    model = _wrapped(backend.model, settings, False)  # type: ignore[arg-type]
    stream, objective = ItemStream(per_source, settings), OBJECTIVES.get("letter")()  # type: ignore[arg-type]
    batches = []
    for step in range(args.steps):  # the tokens, made before the clock starts
        examples = [e for k in range(step * args.batch_size, (step + 1) * args.batch_size) if (e := stream.example(k, objective, backend.encoder))]
        ids, mask, labels = padded(examples, backend.tokenizer.pad_token_id, backend.model.device, left=True)
        keep = max(len(e.input_ids) - e.prompt_length for e in examples) + 1
        batches.append((ids, mask, labels[:, -(keep - 1) :], keep, len(examples), sum(len(e.input_ids) for e in examples)))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    device = resolve_device(args.device).split(":")[0]
    model.train()
    start = time.perf_counter()
    items = tokens = 0
    for ids, mask, targets, keep, n, t in batches:
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits[:, :-1].float()
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        items, tokens = items + n, tokens + t
    return {"items": items, "tokens": tokens, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--max-options", type=int, default=26)
    parser.add_argument("--full", action="store_true", help="full tuning (default: LoRA)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one measurement in this process
    args = parser.parse_args()
    if args.one:
        kind, dtype = args.one.split(":")
        result = (ours if kind == "ours" else bare)(args, dtype)
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for dtype in args.dtypes.split(","):
        for kind in ("bare", "ours"):
            out = subprocess.run([sys.executable, *sys.argv, "--one", f"{kind}:{dtype}"], capture_output=True, text=True, check=True).stdout
            rows[kind, dtype] = json.loads(out.strip().splitlines()[-1])
    print(f"model {args.model}, {'full' if args.full else 'LoRA'}, {args.steps} steps x {args.batch_size} items, threads {args.threads or 'default'}")
    print(f"{'run':22} {'items/s':>8} {'tokens/s':>9} {'peak RSS MiB':>13}")
    for (kind, dtype), r in rows.items():
        print(f"{kind + ' ' + dtype:22} {r['items'] / r['seconds']:8.2f} {r['tokens'] / r['seconds']:9.0f} {r['peak_rss_mib']:13.0f}")
    for dtype in args.dtypes.split(","):
        o, b = rows["ours", dtype], rows["bare", dtype]
        print(f"ours / bound ({dtype}): {(o['tokens'] / o['seconds']) / (b['tokens'] / b['seconds']):.2f} (same tokens: {o['tokens'] == b['tokens']})")
    if {"float32", "bfloat16"} <= set(args.dtypes.split(",")):
        f, h = rows["ours", "float32"], rows["ours", "bfloat16"]
        print(f"bfloat16 / float32 (ours, items/s): {(h['items'] / h['seconds']) / (f['items'] / f['seconds']):.2f}")


if __name__ == "__main__":
    main()
