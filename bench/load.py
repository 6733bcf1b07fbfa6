"""Load and faults: N concurrent clients against ``qa4re serve`` on loopback for a fixed time.

    .venv/bin/python bench/load.py --clients 8 --seconds 60

Two runs, each a fresh ``qa4re serve`` on a free loopback port that stops by itself:

1. the embedded model, ``--max-pending`` small enough that a burst is refused (429 with Retry-After,
   which the clients honour);
2. the fake backend failing a share of its calls (``fake:fail=0.3,delay=0.05``): every request must
   still be answered, the failed pairs as error records.

Each client sends documents with ids of its own (also as ``X-Request-Id``) and checks that every
request got exactly one answer carrying its id. The table: clients, seconds, requests answered,
p50/p95/p99 latency of the 200s, 429s, 5xx, lost (no answer) and duplicated or foreign answers.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CITIES = ["Warsaw", "Paris", "Berlin", "Madrid", "Vienna", "Oslo", "Rome", "Lisbon"]
NAMES = ["Marie Curie", "Anna Berg", "Tom Lind", "Ada Lovelace", "Alan Turing", "Grace Hopper"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def document(identifier: str, k: int) -> dict[str, Any]:
    """A document whose text no other request has (so every request costs model calls: the output cache cannot answer it)."""
    name, city = NAMES[k % len(NAMES)], CITIES[k % len(CITIES)]
    text = f"{name} was born in {city}, says report {identifier}."
    return {"id": identifier, "text": text, "entities": [
        {"start": 0, "end": len(name), "type": "PERSON"}, {"start": text.index(city), "end": text.index(city) + len(city), "type": "CITY"}]}  # fmt: skip


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    lost: int = 0
    mismatched: int = 0  # an answer carrying another request's id
    seen: set[str] = field(default_factory=set)
    duplicated: int = 0
    pair_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(base: str, number: int, deadline: float, tally: Tally) -> None:
    k = 0
    while time.monotonic() < deadline:
        identifier = f"c{number}-{k}"
        body = json.dumps(document(identifier, number + k)).encode()
        request = urllib.request.Request(base + "/extract", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "X-Request-Id": identifier})  # fmt: skip
        started = time.perf_counter()
        status, answer, headers = 0, {}, {}
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, answer, headers = response.status, json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, answer, headers = error.code, json.loads(error.read() or b"{}"), dict(error.headers)
        except OSError:
            status = -1
        elapsed = time.perf_counter() - started
        with tally.lock:
            tally.sent += 1
            if status == -1:
                tally.lost += 1
            else:
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                carried = headers.get("x-request-id") or headers.get("X-Request-Id")
                if carried != identifier or status == 200 and answer.get("id") != identifier:
                    tally.mismatched += 1
                if identifier in tally.seen:
                    tally.duplicated += 1
                tally.seen.add(identifier)
                if status == 200:
                    tally.latencies.append(elapsed)
                    tally.pair_errors += len(answer.get("errors", ()))
        if status == 429:
            time.sleep(min(5.0, float(headers.get("retry-after") or headers.get("Retry-After") or 1)))
        k += 1


def run(label: str, model: str, clients: int, seconds: float, max_pending: int) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "qa4re", "serve", "--schema", "tacred", "--port", str(port), "--model", model,
                   "--cache", str(Path(folder) / "c.sqlite"), "--max-pending", str(max_pending), "--request-timeout", "60"]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until = time.time() + 180
            while True:
                try:
                    urllib.request.urlopen(base + "/ready", timeout=2).read()
                    break
                except OSError:
                    if process.poll() is not None or time.time() > wait_until:
                        raise SystemExit(f"{label}: qa4re serve did not start") from None
                    time.sleep(0.3)
            tally = Tally()
            deadline = time.monotonic() + seconds
            threads = [threading.Thread(target=client, args=(base, n, deadline, tally)) for n in range(clients)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + 180)
            wall = time.perf_counter() - began
        finally:
            process.terminate()
            process.wait(timeout=60)
    quantiles = statistics.quantiles(tally.latencies, n=100) if len(tally.latencies) >= 2 else [float("nan")] * 99
    return {
        "run": label, "clients": clients, "seconds": round(wall, 1), "sent": tally.sent, "answered": tally.statuses.get(200, 0),
        "p50": quantiles[49], "p95": quantiles[94], "p99": quantiles[98], "429": tally.statuses.get(429, 0),
        "5xx": sum(v for s, v in tally.statuses.items() if s >= 500), "lost": tally.lost, "duplicated": tally.duplicated + tally.mismatched,
        "pair errors": tally.pair_errors, "exit": process.returncode,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-pending", type=int, default=4)
    args = parser.parse_args()
    rows = [
        run("embedded model", "default", args.clients, args.seconds, args.max_pending),
        run("fake, 30% of calls fail", "fake:fail=0.3,delay=0.05", args.clients, args.seconds, 64),
    ]
    header = ["run", "clients", "seconds", "sent", "answered", "p50", "p95", "p99", "429", "5xx", "lost", "duplicated", "pair errors", "exit"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{row[h]:.2f} s" if h in ("p50", "p95", "p99") else str(row[h]) for h in header]
        print("| " + " | ".join(cells) + " |")
    every = all(r["lost"] == 0 and r["duplicated"] == 0 and r["5xx"] == 0 for r in rows)
    print(f"\nevery request answered once with its own id, no 5xx: {'yes' if every else 'NO'}")
    return 0 if every else 1


if __name__ == "__main__":
    sys.exit(main())
