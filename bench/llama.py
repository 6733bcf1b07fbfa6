"""GGUF files in process: the llama: backend (llama.cpp) against transformers, the bare llama.cpp bound, and the served path.

Usage (after `make install-llama`; `python scripts/fetch_eval_models.py` for the Qwen models):
    .venv/bin/python bench/llama.py --data ../shared/data/semeval2010_task8 --limit 100 \
        --models default models/qwen2.5-coder-0.5b-instruct.gguf models/qwen2.5-coder-1.5b-instruct.gguf

For each model, on the same seeded SemEval test sample of QA4RE prompts (chat template, the paper's prompt):
  1. token ids: prompts whose ids the two backends build identically;
  2. agreement: prompts whose best letter is the same under llama: and transformers, and the largest
     difference of a letter's log-probability;
  3. examples/s of transformers (the GGUF de-quantized to fp32), of the llama: backend, and of llama.cpp's
     bare evaluation of the same token ids (Llama.reset + Llama.eval per prompt, last logits read: the
     bound), with the ratio llama: / bare;
  4. load time and peak RSS of each backend, each in a fresh process (transformers: from its converted
     fp32 copy; the first conversion's time and peak are printed when this run made it); ``--loads``
     measures only load times, from disk (the page cache dropped, as root) and from the page cache;
  5. the served path: llama-cpp-python's OpenAI-compatible server with the same file (--logits_all, as
     log-probabilities need), scored through the openai: backend (chat API, top log-probabilities of the
     first token) at concurrency 1 (with --served).
Every backend scores the same requests in one process each; no output cache; timings exclude loading.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, ScoreRequest
from qa4re.datasets import dataset_file, read_dataset, sample_positions
from qa4re.evaluation.run import sampled
from qa4re.extract.builder import PreparedPrompt, PromptBuilder
from qa4re.extract.config import ExtractorConfig
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance


def requests_for(data: Path, limit: int, seed: int) -> list[ScoreRequest]:
    path = dataset_file("semeval", data, "test")
    total = sum(1 for _ in read_dataset("semeval", path))
    instances = [i for i in sampled(read_dataset("semeval", path), sample_positions(total, limit, seed)) if isinstance(i, RelationInstance)]
    builder = PromptBuilder(load_schema("semeval"), ExtractorConfig())
    return [ScoreRequest(p.prompt.text, p.prompt.answers, DEFAULT_SYSTEM_MESSAGE) for p in map(builder.prepare, instances) if isinstance(p, PreparedPrompt)]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(kind: str, model: str, data: Path, limit: int, seed: int) -> dict[str, Any]:
    """One backend in this (fresh) process: load, score every request, and for llama: the bare bound
    (``load-transformers``: load only, which converts a GGUF file the first time)."""
    requests = requests_for(data, limit, seed)
    if kind.startswith("load-"):
        start = time.perf_counter()
        if kind == "load-llama":
            from qa4re.backends.llama import LlamaBackend

            LlamaBackend(model)
        else:
            from qa4re.backends.transformers import TransformersBackend

            TransformersBackend(model)
        return {"load_s": time.perf_counter() - start, "peak_rss_mib": peak_mib()}
    start = time.perf_counter()
    if kind == "llama":
        from qa4re.backends.llama import LlamaBackend

        backend: Any = LlamaBackend(model)
    else:
        from qa4re.backends.transformers import TransformersBackend

        backend = TransformersBackend(model)
    load = time.perf_counter() - start
    ids = [backend.encoder.encode(r).prompt_ids for r in requests]
    start = time.perf_counter()
    scores = backend.score_options(requests)
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {"load_s": load, "seconds": seconds, "ids": ids, "scores": [dict(s.logprobs) for s in scores], "threads": None}
    if kind == "llama":
        llm = backend._llm
        out["threads"] = backend.threads
        start = time.perf_counter()
        for prompt in ids:  # llama.cpp's own API, no prefix reuse: the bound
            llm.reset()
            llm.eval(prompt)
        out["bare_seconds"] = time.perf_counter() - start
    else:
        import torch

        out["threads"] = torch.get_num_threads()
    out["peak_rss_mib"] = peak_mib()
    return out


def run_worker(kind: str, model: str, args: argparse.Namespace, python: str = sys.executable) -> dict[str, Any]:
    command = [python, __file__, "--worker", kind, model, "--data", str(args.data), "--limit", str(args.limit), "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so the next load reads the file from disk."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return True
    except OSError:
        return False


def loads(model: str, args: argparse.Namespace) -> None:
    """Load times of both backends in fresh processes: from disk (page cache dropped) and from the page cache."""
    for kind in ("load-llama", "load-transformers"):
        cold = run_worker(kind, model, args)["load_s"] if drop_page_cache() else None
        warm = run_worker(kind, model, args)
        name = kind.removeprefix("load-")
        shown = f"from disk {cold:.2f} s, " if cold is not None else "(page cache not droppable here) "
        print(f"   load {name}: {shown}from the page cache {warm['load_s']:.2f} s (peak RSS {warm['peak_rss_mib']:.0f} MiB)")


def best(scores: dict[str, float], answers: tuple[str, ...]) -> str:
    return max(answers, key=lambda a: scores.get(a, float("-inf")))  # first in option order on ties, as the pipeline decides


def served(model: str, requests: list[ScoreRequest], threads: int) -> tuple[float, list[dict[str, float]]]:
    sys.path.insert(0, str(Path(__file__).parent))
    from served import llama_server  # the served benchmark's server launcher

    from qa4re.backends.openai_compatible import OpenAIBackend

    with llama_server("bench", model, threads) as base_url:
        backend = OpenAIBackend("bench", base_url=base_url, concurrency=1)
        start = time.perf_counter()
        scores = backend.score_options([ScoreRequest(r.prompt, r.answers, r.system) for r in requests])
        return time.perf_counter() - start, [dict(s.logprobs) for s in scores]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/semeval2010_task8"))
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["default"])
    parser.add_argument("--served", action="store_true", help="also measure llama-cpp-python's server (needs the server extra)")
    parser.add_argument("--build", action="append", default=[], metavar="NAME=PYTHON",
                        help="also run the llama: backend with another llama.cpp build (the python of a venv that has it)")  # fmt: skip
    parser.add_argument("--loads", action="store_true", help="only the load times: from disk (page cache dropped, root only) and from the page cache")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.data, args.limit, args.seed)))
        return
    if args.loads:
        for model in args.models:
            print(f"== {model}")
            loads(model, args)
        return
    requests = requests_for(args.data, args.limit, args.seed)
    print(f"{len(requests)} SemEval QA4RE prompts (seed {args.seed}); CPUs {len(os.sched_getaffinity(0))}")
    for model in args.models:
        size = Path(model).stat().st_size / 2**20 if model.endswith(".gguf") else None
        first = run_worker("load-transformers", model, args)  # converts the GGUF file the first time
        hf = run_worker("transformers", model, args)  # a fresh process from the converted copy
        ll = run_worker("llama", model, args)
        n = len(requests)
        same_ids = sum(a == b for a, b in zip(hf["ids"], ll["ids"], strict=True))
        same = sum(best(a, r.answers) == best(b, r.answers) for a, b, r in zip(hf["scores"], ll["scores"], requests, strict=True))
        gap = max(abs(a[k] - b[k]) for a, b in zip(hf["scores"], ll["scores"], strict=True) for k in a)
        tokens = sum(len(i) for i in ll["ids"])
        print(f"\n== {model}" + (f" ({size:.0f} MiB file)" if size else ""))
        print(f"1. token ids: {same_ids}/{n} prompts identical ({tokens} prompt tokens, mean {tokens / n:.0f})")
        print(f"2. same best letter as transformers: {same}/{n}; largest |Δ log-prob| of a letter {gap:.3f}")
        rates = {"transformers fp32": n / hf["seconds"], "llama: backend": n / ll["seconds"], "llama.cpp bare eval": n / ll["bare_seconds"]}
        print("3. examples/s: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
        print(f"   llama: / bare llama.cpp {rates['llama: backend'] / rates['llama.cpp bare eval']:.2f}x; llama: / transformers "
              f"{rates['llama: backend'] / rates['transformers fp32']:.2f}x (threads: transformers {hf['threads']}, llama {ll['threads']})")  # fmt: skip
        print(f"4. load: transformers {hf['load_s']:.2f} s, llama: {ll['load_s']:.2f} s; peak RSS: transformers {hf['peak_rss_mib']:.0f} MiB, "
              f"llama: {ll['peak_rss_mib']:.0f} MiB" + (f" (file + {ll['peak_rss_mib'] - size:.0f} MiB)" if size else ""))  # fmt: skip
        if first["load_s"] > hf["load_s"] * 3:
            print(f"   first transformers load (GGUF -> fp32 conversion): {first['load_s']:.1f} s, peak RSS {first['peak_rss_mib']:.0f} MiB")
        for build in args.build:
            name, _, python = build.partition("=")
            other = run_worker("llama", model, args, python)
            agree = sum(best(a, r.answers) == best(b, r.answers) for a, b, r in zip(ll["scores"], other["scores"], requests, strict=True))
            gap = max(abs(a[k] - b[k]) for a, b in zip(ll["scores"], other["scores"], strict=True) for k in a)
            print(f"   build {name}: llama: {n / other['seconds']:.2f} examples/s ({ll['seconds'] / other['seconds']:.2f}x the Makefile's build), "
                  f"bare {n / other['bare_seconds']:.2f} ({ll['bare_seconds'] / other['bare_seconds']:.2f}x); same best letter as the Makefile's "
                  f"build {agree}/{n}, largest |Δ log-prob| {gap:.3f}")  # fmt: skip
        if args.served:
            from qa4re.backends.embedded import embedded_gguf

            path = str(embedded_gguf()) if model == "default" else model
            seconds, remote = served(path, requests, ll["threads"])
            agree = sum(best(a, r.answers) == best(b, r.answers) for a, b, r in zip(ll["scores"], remote, requests, strict=True))
            print(f"5. served (llama-cpp-python server, --logits_all, openai: chat, concurrency 1): {n / seconds:.2f} examples/s "
                  f"({(n / seconds) / rates['llama: backend']:.2f}x the llama: backend); same best letter as llama: {agree}/{n}")  # fmt: skip


if __name__ == "__main__":
    main()
