"""A served model through the OpenAI-compatible backend: agreement with local scoring, and concurrency.

Usage (after `make install` and `pip install -e '.[server]'`):
    .venv/bin/python bench/served.py --data ../shared/data/semeval2010_task8 --limit 100

Without --base-url it starts llama.cpp's server (llama-cpp-python) on loopback, serving the
embedded SmolLM2 GGUF. On a seeded SemEval test sample of QA4RE prompts it prints:
  1. agreement: the letter the served model puts first vs the letter the same model scores
     first locally (transformers, the GGUF dequantized to fp32);
  2. throughput at concurrency 1, 4 and 16 (no cache), as ratios to concurrency 1.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, ScoreRequest
from qa4re.backends.embedded import embedded_gguf
from qa4re.backends.openai_compatible import OpenAIBackend
from qa4re.backends.transformers import TransformersBackend
from qa4re.datasets import dataset_file, read_dataset, sample_positions
from qa4re.evaluation.run import sampled
from qa4re.extract.builder import PreparedPrompt, PromptBuilder
from qa4re.extract.config import ExtractorConfig
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance


@contextmanager
def llama_server(alias: str, model: str | None = None, threads: int = 2) -> Iterator[str]:
    """llama-cpp-python's server on a free loopback port, serving ``model`` (default: the embedded GGUF)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", model or str(embedded_gguf()), "--model_alias", alias, "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096", "--logits_all", "true", "--n_threads", str(threads)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=30)


def best(scores: dict[str, float], answers: tuple[str, ...]) -> str:
    return max(answers, key=lambda a: scores[a])  # first in option order on ties, as the pipeline decides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/semeval2010_task8"))
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-url", help="a running server (default: start llama.cpp's server with the embedded model)")
    parser.add_argument("--model", default="smollm2", help="served model name")
    args = parser.parse_args()

    path = dataset_file("semeval", args.data, "test")
    total = sum(1 for _ in read_dataset("semeval", path))
    instances = [i for i in sampled(read_dataset("semeval", path), sample_positions(total, args.limit, args.seed)) if isinstance(i, RelationInstance)]
    builder = PromptBuilder(load_schema("semeval"), ExtractorConfig())
    prompts = [p.prompt for p in map(builder.prepare, instances) if isinstance(p, PreparedPrompt)]
    requests = [ScoreRequest(p.text, p.answers, DEFAULT_SYSTEM_MESSAGE) for p in prompts]

    with llama_server(args.model) if args.base_url is None else _given(args.base_url) as base_url:
        served = OpenAIBackend(args.model, base_url=base_url, concurrency=4)
        remote = served.score_options(requests)
        failed = sum(r.error is not None for r in remote)
        local = TransformersBackend("default").score_options(requests) if args.base_url is None else None
        if local is not None:
            same = sum(best(dict(r.logprobs), q.answers) == best(dict(h.logprobs), q.answers) for q, r, h in zip(requests, remote, local, strict=True))
            print(f"1. agreement: {same}/{len(requests)} prompts get the same first letter served (llama.cpp, Q4_1 GGUF) and local (fp32); {failed} failed")
        rates = {}
        for concurrency in (1, 4, 16):
            backend = OpenAIBackend(args.model, base_url=base_url, concurrency=concurrency)
            start = time.perf_counter()
            backend.score_options(requests)
            rates[concurrency] = len(requests) / (time.perf_counter() - start)
        print("2. throughput: " + ", ".join(f"concurrency {c}: {r:.2f} prompts/s ({r / rates[1]:.2f}x)" for c, r in rates.items()))


@contextmanager
def _given(base_url: str) -> Iterator[str]:
    yield base_url


if __name__ == "__main__":
    main()
