"""The OpenAI-compatible backend against a real server: llama.cpp's server (llama-cpp-python)
serving the embedded SmolLM2 GGUF on loopback, with and without a fault-injecting proxy.

Opt-in (``-m server``): llama-cpp-python compiles for minutes on first install. ``.ci/run`` runs them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES
from fault_proxy import FaultProxy
from helpers import qa4re, read_jsonl, rows

pytestmark = pytest.mark.server
SEMEVAL = FIXTURES / "semeval_small"
SERVED = "smollm2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    pytest.importorskip("llama_cpp")
    from qa4re.backends.embedded import embedded_gguf

    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()), "--model_alias", SERVED, "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096", "--logits_all", "true", "--n_threads", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise RuntimeError("llama.cpp server did not start") from None
                time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def evaluate(port: int, out: Path, cache: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return qa4re(
        "evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--model", f"openai:{SERVED}", "--base-url", f"http://127.0.0.1:{port}/v1",
        "--output", out, "--cache", cache, *extra, check=check,
    )  # fmt: skip


def test_served_model_scores_letters_from_logprobs(server_port: int, tmp_path: Path) -> None:
    evaluate(server_port, tmp_path / "run", tmp_path / "c.sqlite", "--concurrency", "2")
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(records) == 12 and all(r["scoring"] == "logprobs" for r in records)
    assert all(sum(r["option_probabilities"].values()) == pytest.approx(1.0) for r in records)
    assert metrics["run"]["usage"]["prompt_tokens"] > 0 and metrics["run"]["usage"]["requests"] == 12


def test_faults_lose_nothing_and_a_rerun_sends_nothing(server_port: int, tmp_path: Path) -> None:
    evaluate(server_port, tmp_path / "direct", tmp_path / "direct.sqlite")
    proxy = FaultProxy(server_port, faults={1: "429", 3: "500", 5: "truncate", 7: "hang", 9: "500"}, hang_seconds=20)
    with proxy.running() as port:
        # The timeout stays well above the server's latency, so only the hang times out.
        evaluate(port, tmp_path / "faulty", tmp_path / "faulty.sqlite", "--concurrency", "2", "--timeout", "15")
        assert proxy.injected == {"429": 1, "500": 2, "truncate": 1, "hang": 1}
        faulty = read_jsonl(tmp_path / "faulty" / "predictions.jsonl")
        assert [r["prediction"] for r in faulty] == [r["prediction"] for r in read_jsonl(tmp_path / "direct" / "predictions.jsonl")]
        assert all("error" not in r for r in faulty)
        before = sum(proxy.forwarded.values())
        evaluate(port, tmp_path / "again", tmp_path / "faulty.sqlite")
        assert sum(proxy.forwarded.values()) == before
        # Only the truncated response was computed twice by the server (once lost in transit).
        assert sum(n - 1 for n in proxy.forwarded.values()) == 1


def test_an_example_that_keeps_failing_becomes_an_error_record_and_the_run_goes_on(server_port: int, tmp_path: Path) -> None:
    proxy = FaultProxy(server_port, always_fail="caused heavy")  # one sentence of the fixture (id 2)
    with proxy.running() as port:
        result = evaluate(port, tmp_path / "run", tmp_path / "c.sqlite", "--max-retries", "2", check=False)
    assert result.returncode == 1 and "1 examples failed" in result.stderr
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    failed = [r for r in records if "error" in r]
    assert len(records) == 12 and len(failed) == 1 and "InternalServerError" in failed[0]["error"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_errors"] == 1 and metrics["run"]["model_errors"] == 1


def test_the_api_key_never_reaches_outputs_or_messages(server_port: int, tmp_path: Path) -> None:
    secret = "sk-test-" + "x" * 24
    env = {**os.environ, "OPENAI_API_KEY": secret}
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "qa4re", "evaluate", "--dataset", "semeval", "--data", str(SEMEVAL), "--model", f"openai:{SERVED}",
         "--base-url", f"http://127.0.0.1:{server_port}/v1", "--output", str(out), "--cache", str(tmp_path / "c.sqlite")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    texts = [result.stdout, result.stderr] + [p.read_text(errors="replace") for p in out.iterdir()]
    texts.append((tmp_path / "c.sqlite").read_bytes().decode("latin-1"))
    assert not any(secret in text for text in texts)


def test_a_run_killed_half_way_resends_nothing_it_had_finished(server_port: int, tmp_path: Path) -> None:
    proxy = FaultProxy(server_port)
    cache = tmp_path / "c.sqlite"
    with proxy.running() as port:
        args = ["evaluate", "--dataset", "semeval", "--data", str(SEMEVAL), "--model", f"openai:{SERVED}", "--base-url", f"http://127.0.0.1:{port}/v1",
                "--concurrency", "1", "--cache", str(cache)]  # fmt: skip
        command = [sys.executable, "-m", "qa4re", *args, "--output", str(tmp_path / "killed")]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while rows(cache) < 4 and time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.kill()
        process.wait()
        proxy.wait_idle()  # a request in flight at the kill still reaches the server: count it before resuming
        done = rows(cache)
        assert 4 <= done < 12, "the run was not killed half way"
        finished = {body for body in proxy.forwarded}
        sent_before = sum(proxy.forwarded.values())
        qa4re(*args, "--output", tmp_path / "resumed")
        resumed = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert resumed["run"]["model_calls"] == 12 - done
    assert sum(proxy.forwarded.values()) - sent_before == 12 - done
    assert len(set(proxy.forwarded)) == 12 and len(finished) >= done
    # Sent twice: at most the one request that was in flight when the run was killed (never cached).
    assert sum(n - 1 for n in proxy.forwarded.values()) == len(finished) - done <= 1
    assert len(read_jsonl(tmp_path / "resumed" / "predictions.jsonl")) == 12


def test_letter_bias_is_sent_with_the_requests_own_letters_and_keeps_the_choices(server_port: int, tmp_path: Path) -> None:
    evaluate(server_port, tmp_path / "plain", tmp_path / "plain.sqlite")
    proxy = FaultProxy(server_port)
    with proxy.running() as port:
        evaluate(port, tmp_path / "biased", tmp_path / "biased.sqlite", "--letter-tokenizer", "default")
    bodies = [json.loads(body) for body in proxy.forwarded]
    biased = read_jsonl(tmp_path / "biased" / "predictions.jsonl")
    assert len(bodies) == 12 and all(set(body["logit_bias"].values()) == {100} for body in bodies)
    # two tokens per letter (bare and after a space), one letter per option of that prompt
    assert sorted(len(body["logit_bias"]) for body in bodies) == sorted(2 * len(r["letter_to_relation"]) for r in biased)
    # Adding the same bias to every option letter keeps their ratios: the choices do not move.
    assert [r["prediction"] for r in biased] == [r["prediction"] for r in read_jsonl(tmp_path / "plain" / "predictions.jsonl")]
