"""Helpers shared by the test modules: run the qa4re command, read its outputs, score independently."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import FIXTURES

SEMEVAL = FIXTURES / "semeval_small"


def qa4re(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the qa4re command, in this process (as ``main()`` runs it: its exit status, stdout and stderr).

    The process boundary is not what these tests are about, and starting Python, torch and
    transformers anew for each command was most of the suite's time. Tests about signals, the
    environment or a server start a real process themselves. ``QA4RE_TEST_SUBPROCESS=1`` runs
    every command in a subprocess instead.
    """
    argv = list(map(str, args))
    if os.environ.get("QA4RE_TEST_SUBPROCESS") == "1":
        result = subprocess.run([sys.executable, "-m", "qa4re", *argv], capture_output=True, text=True, timeout=600)
    else:
        result = _in_process(argv)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def _in_process(argv: list[str]) -> subprocess.CompletedProcess[str]:
    from qa4re.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    saved = sys.argv
    sys.argv = ["qa4re", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
            except Exception:  # what the interpreter would print, and its status
                err.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = saved
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(code, str):
        err.write(code + "\n")
    return subprocess.CompletedProcess(["qa4re", *argv], status, out.getvalue(), err.getvalue())


def start_service(
    *args: str | Path, startup: float = 180, env: dict[str, str] | None = None, stderr: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    """Start ``qa4re serve ARGS`` on a free loopback port and wait for it: the process, its base URL and its first /health answer."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "qa4re", "serve", "--port", str(port), *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + startup
    while True:
        try:
            return process, base, json.loads(urllib.request.urlopen(base + "/health", timeout=2).read())
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(f"qa4re serve did not start: {process.stderr.read() if process.stderr else ''}") from None
            time.sleep(0.3)


@contextmanager
def serving(*args: str | Path, startup: float = 180) -> Iterator[tuple[str, dict[str, Any]]]:
    """``qa4re serve ARGS`` on a free loopback port: yields its base URL and its first /health answer; stopped after."""
    process, base, health = start_service(*args, startup=startup)
    try:
        yield base, health
    finally:
        process.terminate()
        process.wait(timeout=30)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def independent_scores(records: list[dict[str, Any]], na: str) -> dict[str, float]:
    """Micro-F1 without NA, accuracy and the SemEval macro-F1, computed from scratch."""
    tp = sum(r["prediction"] == r["gold"] != na for r in records)
    guessed = sum(r["prediction"] not in (None, na) for r in records)
    gold = sum(r["gold"] != na for r in records)
    p, rec = (tp / guessed if guessed else 0.0), (tp / gold if gold else 0.0)
    out = {"micro_f1": 2 * p * rec / (p + rec) if p + rec else 0.0, "accuracy": sum(r["prediction"] == r["gold"] for r in records) / len(records)}
    kind = lambda label: label.split("(")[0]  # noqa: E731
    f1s = []
    for t in sorted({kind(r["gold"]) for r in records} - {"Other"}):
        correct = sum(r["prediction"] == r["gold"] and kind(r["gold"]) == t for r in records)
        predicted = sum(r["prediction"] is not None and kind(r["prediction"]) == t for r in records)
        total = sum(kind(r["gold"]) == t for r in records)
        tp_p, tp_r = (correct / predicted if predicted else 0.0), correct / total
        f1s.append(2 * tp_p * tp_r / (tp_p + tp_r) if tp_p + tp_r else 0.0)
    out["semeval_official_macro_f1"] = sum(f1s) / len(f1s)
    return out


def rows(cache: Path) -> int:
    try:
        with sqlite3.connect(cache) as db:
            return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0
