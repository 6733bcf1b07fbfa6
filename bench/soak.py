"""Soak: memory over a long run. The embedded model over N SemEval instances (the file repeated as needed),
every model call real (an empty output cache), resident memory sampled every few seconds.

    .venv/bin/python bench/soak.py --data ../shared/data/semeval2010_task8 --instances 2000

Prints the RSS curve (seconds, instances done, RSS MiB) and the growth after warm-up: the RSS at the
end against the RSS once the first ``--warmup`` share of the instances is done. The goal is under 10 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from itertools import cycle, islice
from pathlib import Path

from qa4re.backends.settings import BackendSettings
from qa4re.datasets import OnError, dataset_file, read_dataset
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.pipeline import Extractor
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance


def rss_mib() -> float:
    """Resident memory of this process now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def instances(data: Path, n: int) -> Iterator[RelationInstance]:
    """``n`` SemEval test instances, the file repeated with fresh ids when it has fewer."""
    items = [i for i in read_dataset("semeval", dataset_file("semeval", data, "test"), OnError.SKIP) if isinstance(i, RelationInstance)]
    for k, item in enumerate(islice(cycle(items), n)):
        yield RelationInstance(f"{item.id}#{k // len(items)}", item.text, item.subj, item.obj, item.relation, item.source)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--model", default="default")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=0.2, help="share of the instances before the baseline RSS is taken")
    args = parser.parse_args()
    samples: list[tuple[float, int, float]] = []
    done = [0]
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter() - started, done[0], rss_mib()))
            stop.wait(args.every)

    with tempfile.TemporaryDirectory() as folder:
        backend = BackendSettings(model=args.model, cache=Path(folder) / "outputs.sqlite").build()
        extractor = Extractor(load_schema("semeval"), backend, ExtractorConfig())
        print(f"model {backend.fingerprint}; {args.instances} instances; RSS after loading {rss_mib():.0f} MiB", flush=True)
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        for _ in extractor.predict(instances(args.data, args.instances)):
            done[0] += 1
        stop.set()
        thread.join()
        samples.append((time.perf_counter() - started, done[0], rss_mib()))
        backend.close()
    print(f"\n{'seconds':>8} {'done':>6} {'RSS MiB':>8}")
    step = max(1, len(samples) // 30)
    for seconds, count, rss in [*samples[::step], samples[-1]]:
        print(f"{seconds:8.0f} {count:6d} {rss:8.0f}")
    warm = next((s for s in samples if s[1] >= args.warmup * args.instances), samples[0])
    peak_after = max(s[2] for s in samples if s[0] >= warm[0])
    growth = (samples[-1][2] - warm[2]) / warm[2]
    print(f"\nafter warm-up ({warm[1]} instances, {warm[0]:.0f} s): {warm[2]:.0f} MiB; at the end ({samples[-1][1]} instances, "
          f"{samples[-1][0]:.0f} s): {samples[-1][2]:.0f} MiB; peak after warm-up {peak_after:.0f} MiB")  # fmt: skip
    print(f"growth after warm-up: {100 * growth:+.1f}% (goal: under 10%) -> {'met' if growth < 0.10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
