"""Examples/s of the Ray engine with 1 and 2 actors against the single-process pipeline.

Usage (after `make install-ray`):
    .venv/bin/python bench/ray_throughput.py --data ../shared/data/semeval2010_task8 --limit 64

The same seeded SemEval test sample through (a) the single-process pipeline, (b) one Ray actor
with all of the machine's CPUs, (c) two actors sharing them; each with an empty output cache and a
fresh work folder, so every example costs a model call. The wall time runs from the call to the
last output and includes each actor's model load (the single process loads its model inside the
timing too); Ray itself is started before any timing. Prints examples/s and the ratio to (a), and
whether the predictions equal (a)'s relation by relation.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import ray
import torch

from qa4re.backends.settings import BackendSettings
from qa4re.datasets import dataset_file, read_dataset, sample_positions
from qa4re.engines import Engine, ExtractorSpec, LocalEngine
from qa4re.engines.ray import RayEngine, RayOptions
from qa4re.evaluation.run import sampled
from qa4re.extract.config import ExtractorConfig
from qa4re.schemas.loader import load_schema
from qa4re.types import Item, Output, Prediction


def timed(name: str, make: Callable[[Path], Engine], items: Sequence[Item], model: BackendSettings, folder: Path) -> tuple[float, list[Output]]:
    spec = ExtractorSpec(load_schema("semeval"), ExtractorConfig(), BackendSettings(model.model, model.batch_size, cache=folder / f"{name}.sqlite"))
    engine = make(folder / f"{name}-work")
    started = time.perf_counter()
    outputs = list(engine.map(items, spec))
    seconds = time.perf_counter() - started
    assert engine.calls == len(items), f"{name}: {engine.calls} model calls for {len(items)} examples (a cache answered some)"
    return seconds, outputs


def relations(outputs: list[Output]) -> Iterator[str | None]:
    return (o.relation if isinstance(o, Prediction) else None for o in outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--model", default="default")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=16, help="items per Ray task (a multiple of 4 x batch size)")
    args = parser.parse_args()
    path = dataset_file("semeval", args.data, "test")
    items = list(sampled(read_dataset("semeval", path), sample_positions(sum(1 for _ in read_dataset("semeval", path)), args.limit, 0)))
    model = BackendSettings(args.model, args.batch_size)
    cpus = os.cpu_count() or 1
    threads = torch.get_num_threads()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    blocks = -(-len(items) // args.block_size)
    print(f"examples: {len(items)}; CPUs: {cpus}; torch threads in the single process: {threads}; batch size {args.batch_size}; {blocks} Ray tasks")
    runs: list[tuple[str, Callable[[Path], Engine]]] = [
        ("single process", lambda _: LocalEngine()),
        ("ray, 1 actor", lambda work: RayEngine(RayOptions(workers=1, block_size=args.block_size, cpus_per_worker=cpus), work)),
        ("ray, 2 actors", lambda work: RayEngine(RayOptions(workers=2, block_size=args.block_size, cpus_per_worker=max(1, cpus // 2)), work)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        base: tuple[float, list[Output]] | None = None
        for k, (name, make) in enumerate(runs):
            seconds, outputs = timed(f"run{k}", make, items, model, Path(tmp))
            base = base or (seconds, outputs)
            same = sum(a == b for a, b in zip(relations(outputs), relations(base[1]), strict=True))
            rate = f"{len(items) / seconds:6.2f} examples/s  ratio {base[0] / seconds:5.2f}"
            print(f"{name:16s} {seconds:8.2f} s  {rate}  same relation as single: {same}/{len(items)}")
    ray.shutdown()


if __name__ == "__main__":
    main()
