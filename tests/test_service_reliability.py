"""`qa4re serve` under overload, deadlines, shutdown and strangers: a real uvicorn on loopback.

The model is the fake backend with a delay (``fake:delay=S``): these are tests of the service's
plumbing (queue bounds, deadlines, draining, access, logs), not of extraction.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helpers import start_service
from test_serve import document, free_port

KEY = "s3cr3t-test-key-7f2a"


@contextmanager
def service(tmp_path: Path, *args: str, model: str = "fake:delay=0", env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    command = ["--schema", "tacred", "--model", model, "--cache", tmp_path / "c.sqlite", *args]
    process, base, _ = start_service(*command, startup=120, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE)
    try:
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def call(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def log_lines(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """The JSON request lines the service wrote to stderr (read after it exited)."""
    assert process.stderr is not None
    return [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]


def test_past_max_pending_requests_get_429_with_retry_after(tmp_path: Path) -> None:
    with service(tmp_path, "--max-pending", "2", model="fake:delay=1.0") as (base, _), ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda k: call(base + "/extract", document(f"P{k}", "Paris")), range(8)))
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1 and set(statuses) <= {200, 429}
    refused = next(a for a in answers if a[0] == 429)
    assert int(refused[2]["retry-after"]) >= 1 and "pending" in refused[1]["error"]


def test_past_the_request_timeout_a_request_gets_504_and_the_service_goes_on(tmp_path: Path) -> None:
    with service(tmp_path, "--request-timeout", "0.3", model="fake:delay=1.5") as (base, _):
        status, body, _ = call(base + "/extract", document("Anna", "Oslo"))
        assert status == 504 and "0.3 s" in body["error"]
        status, body, _ = call(base + "/ready")
        assert status == 200 and body["status"] == "ready"


def test_sigterm_answers_the_request_in_flight_then_exits_0(tmp_path: Path) -> None:
    with service(tmp_path, model="fake:delay=2.0") as (base, process):
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(call, base + "/extract", document("Anna", "Oslo"))
            time.sleep(0.8)  # the request is in the model
            process.send_signal(signal.SIGTERM)
            status, body, _ = pending.result(timeout=60)
        assert status == 200 and body["id"] == "Anna-Oslo" and body["pairs"] >= 1
        assert process.wait(timeout=60) == 0
        assert [line["status"] for line in log_lines(process)] == [200]


def test_without_or_with_a_wrong_key_401_with_the_right_one_200_and_the_key_never_logged(tmp_path: Path) -> None:
    with service(tmp_path, env={"QA4RE_API_KEY": KEY}) as (base, process):
        assert call(base + "/extract", document("Anna", "Oslo"))[0] == 401
        assert call(base + "/extract", document("Anna", "Oslo"), {"Authorization": "Bearer wrong"})[0] == 401
        assert call(base + "/extract", document("Anna", "Oslo"), {"Authorization": f"Basic {KEY}"})[0] == 401
        assert call(base + "/ready")[0] == 401
        status, body, _ = call(base + "/extract", document("Anna", "Oslo"), {"Authorization": f"Bearer {KEY}"})
        assert status == 200 and body["id"] == "Anna-Oslo"
        assert call(base + "/health")[0] == 200  # liveness stays open
        process.terminate()
        process.wait(timeout=60)
        assert process.stderr is not None
        logged = process.stderr.read()
    assert KEY not in logged and "API key required" in logged


def test_a_batch_body_is_answered_in_order_each_document_with_its_own_id_and_errors(tmp_path: Path) -> None:
    bad = {"id": "broken", "text": "Ann met Bob.", "entities": [{"start": 0, "end": 99}]}
    batch = {"documents": [document("Anna", "Oslo"), bad, document("Bo", "Rome"), {"text": "no id", "entities": []}]}
    with service(tmp_path) as (base, process):
        status, body, headers = call(base + "/extract", batch, {"X-Request-Id": "batch-1"})
        assert status == 200 and headers["x-request-id"] == "batch-1"
        answers = body["documents"]
        assert [a["id"] for a in answers[:3]] == ["Anna-Oslo", "broken", "Bo-Rome"] and answers[3]["id"].startswith("request:")
        assert "error" in answers[1] and "entities[0]" in answers[1]["error"] and answers[0]["pairs"] == answers[2]["pairs"] >= 1
        assert call(base + "/extract", {"documents": [document("A", "B")] * 40})[0] == 422  # over --max-documents
        process.terminate()
        process.wait(timeout=60)
        (first, second) = log_lines(process)
    pairs = sum(a.get("pairs", 0) for a in answers)
    assert first["id"] == "batch-1" and first["status"] == 200 and first["documents"] == 3 and first["pairs"] == pairs and first["errors"] == 1
    assert {"queue_ms", "model_ms", "total_ms", "triples"} <= set(first) and "texts" not in first and second["status"] == 422


def test_serving_beyond_loopback_without_a_key_warns(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "qa4re", "serve", "--schema", "tacred", "--host", "0.0.0.0", "--port", str(port), "--model", "fake:x",
               "--cache", str(tmp_path / "c.sqlite")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert "warning: serving on 0.0.0.0 without an API key" in first


def test_a_draining_service_refuses_new_requests_with_503_and_is_not_ready() -> None:
    from fastapi.testclient import TestClient

    from qa4re.backends.fake import FakeBackend
    from qa4re.integrations.service import ServiceState, create_app
    from qa4re.schemas.loader import load_schema

    state = ServiceState()
    with TestClient(create_app(load_schema("tacred"), FakeBackend(), state=state)) as client:
        assert client.post("/extract", json=document("Anna", "Oslo")).status_code == 200
        assert client.get("/ready").json()["status"] == "ready"
        state.drain()  # what SIGTERM does first
        refused = client.post("/extract", json=document("Anna", "Oslo"))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        assert client.get("/health").status_code == 200


def test_the_service_bounds_mentions_per_request_and_takes_the_document_settings_of_extract() -> None:
    from fastapi.testclient import TestClient

    from qa4re.backends.fake import FakeBackend
    from qa4re.extract.documents import DocumentSettings
    from qa4re.integrations.limits import ServiceLimits
    from qa4re.integrations.service import create_app
    from qa4re.schemas.loader import load_schema

    app = create_app(load_schema("tacred"), FakeBackend(), limits=ServiceLimits(max_mentions=1), document_settings=DocumentSettings(max_pairs=1))
    with TestClient(app) as client:
        refused = client.post("/extract", json=document("Anna", "Oslo"))
        assert refused.status_code == 422 and "2 mentions, over the limit of 1" in refused.text
    text = "Anna met Bob in Oslo."
    three = {"text": text, "entities": [{"start": 0, "end": 4, "type": "PERSON"}, {"start": 9, "end": 12, "type": "PERSON"},
                                        {"start": 16, "end": 20, "type": "CITY"}]}  # fmt: skip
    for settings, pairs in ((DocumentSettings(), 4), (DocumentSettings(max_pairs=2), 2)):  # max_pairs per document, as in extract
        with TestClient(create_app(load_schema("tacred"), FakeBackend(), document_settings=settings)) as client:
            assert client.post("/extract", json=three).json()["pairs"] == pairs
