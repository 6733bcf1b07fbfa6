"""The Backend contract, checked the same way on every registered backend.

fake (scripted), transformers (the real embedded model), llama (the embedded GGUF file in llama.cpp,
in process; ``-m llama``), nli (a tiny random NLI cross-encoder), and the OpenAI-compatible client
over real HTTP against a loopback stub of the API (chat and completions; one variant that returns no
log-probabilities). The llama.cpp server runs the same client in test_served_model.py. A backend
added to the registry without a way to build it here fails ``test_every_registered_backend_is_checked``.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from qa4re.backends.base import LANGUAGE_MODEL, Backend, Capability, GenerateRequest, ScoreRequest
from qa4re.backends.cached import CachingBackend
from qa4re.backends.fake import FakeBackend
from qa4re.backends.nli import NLIBackend
from qa4re.backends.openai_compatible import OpenAIBackend
from qa4re.backends.registry import BACKENDS
from qa4re.errors import BackendError

LETTERS = "ABCDEFGH"


def _stub_logprobs(text: str) -> dict[str, float]:
    """Deterministic letter log-probabilities that depend on the prompt."""
    shift = hashlib.sha256(text.encode()).digest()[0] % len(LETTERS)
    return {LETTERS[(i + shift) % len(LETTERS)]: -0.5 - i for i in range(len(LETTERS))}


class _StubAPI(BaseHTTPRequestHandler):
    """Just enough of /v1/chat/completions and /v1/completions for the client."""

    logprobs = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        chat = self.path.endswith("/chat/completions")
        prompt = json.dumps(body["messages"]) if chat else body["prompt"]
        top = _stub_logprobs(prompt)
        best = max(top, key=top.__getitem__)
        text = best if body.get("max_tokens") == 1 else f"The answer is {best}."
        wants = self.logprobs and (body.get("logprobs") is True or isinstance(body.get("logprobs"), int))
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": 1, "total_tokens": len(prompt) // 4 + 1}
        if chat:
            logprobs = {"content": [{"token": best, "logprob": top[best], "top_logprobs": [{"token": t, "logprob": v} for t, v in top.items()]}]}
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": logprobs if wants else None}
            answer = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice], "usage": usage}
        else:
            logprobs = {"tokens": [best], "token_logprobs": [top[best]], "top_logprobs": [top], "text_offset": [0]}
            choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": logprobs if wants else None}
            answer = {"id": "x", "object": "text_completion", "created": 0, "model": body["model"], "choices": [choice], "usage": usage}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _NoLogprobsAPI(_StubAPI):
    logprobs = False


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def stub_api() -> Iterator[str]:
    yield from _serve(_StubAPI)


@pytest.fixture(scope="module")
def stub_api_without_logprobs() -> Iterator[str]:
    yield from _serve(_NoLogprobsAPI)


# registry name -> the ways this suite builds it
VARIANTS: dict[str, list[Any]] = {
    "fake": ["fake"],
    "transformers": [pytest.param("transformers", marks=pytest.mark.model)],
    "llama": [pytest.param("llama", marks=[pytest.mark.model, pytest.mark.llama])],
    "openai": ["openai-chat", "openai-completions", "openai-no-logprobs"],
    "nli": ["nli"],
}
TRANSPORTS = [variant for name in BACKENDS.names() if name in VARIANTS for variant in VARIANTS[name]]


def test_every_registered_backend_is_checked() -> None:
    assert [name for name in BACKENDS.names() if name not in VARIANTS] == []


@pytest.fixture(params=TRANSPORTS)
def backend(request: pytest.FixtureRequest) -> Backend:
    kind = request.param
    if kind == "fake":
        return FakeBackend()
    if kind == "transformers":
        return request.getfixturevalue("embedded_backend")  # type: ignore[no-any-return]
    if kind == "llama":
        return request.getfixturevalue("embedded_llama")  # type: ignore[no-any-return]
    if kind == "nli":
        return NLIBackend(str(request.getfixturevalue("tiny_nli")), device="cpu")
    if kind == "openai-no-logprobs":
        return OpenAIBackend("stub", base_url=request.getfixturevalue("stub_api_without_logprobs"), concurrency=2)
    return OpenAIBackend("stub", base_url=request.getfixturevalue("stub_api"), api=kind.removeprefix("openai-"), concurrency=2)


REQUESTS = [
    ScoreRequest("Which option? A. x B. y\nAnswer:", ("A", "B")),
    ScoreRequest("Which option? A. x B. y C. z\nAnswer:", ("A", "B", "C")),
    ScoreRequest("Pick one of four.\nAnswer:", ("A", "B", "C", "D")),
]


def test_declares_the_protocol_attributes(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    assert isinstance(backend.fingerprint, str) and backend.fingerprint
    assert backend.max_batch_size >= 1 and backend.capabilities and all(isinstance(c, Capability) for c in backend.capabilities)
    assert backend.max_letter_options is None or backend.max_letter_options >= 2
    assert getattr(backend, "commit_every", None) is None or backend.commit_every >= 1  # type: ignore[attr-defined]


def test_scores_every_request_in_order_with_exactly_its_answers(backend: Backend) -> None:
    results = backend.score_options(REQUESTS)
    assert len(results) == len(REQUESTS)
    for request, result in zip(REQUESTS, results, strict=True):
        assert result.error is None
        if result.source == "text":  # no log-probabilities: the model's text, for the pipeline to read
            assert result.logprobs == {} and isinstance(result.text, str) and result.text
        else:
            assert set(result.logprobs) == set(request.answers)
            assert all(v <= 0 or math.isinf(v) for v in result.logprobs.values()) and any(math.isfinite(v) for v in result.logprobs.values())


def test_a_batch_scores_as_its_requests_one_by_one(backend: Backend) -> None:
    together = backend.score_options(REQUESTS)
    alone = [backend.score_options([r])[0] for r in REQUESTS]
    for a, b in zip(together, alone, strict=True):
        assert a.source == b.source and a.text == b.text and a.logprobs.keys() == b.logprobs.keys()
        assert all(a.logprobs[k] == pytest.approx(b.logprobs[k], abs=1e-4) for k in a.logprobs)


def test_empty_batches_give_empty_results(backend: Backend) -> None:
    assert backend.score_options([]) == [] and backend.generate([]) == []


def test_generates_one_text_per_request_in_order(backend: Backend) -> None:
    if not backend.capabilities & LANGUAGE_MODEL:  # an NLI model scores, it does not write: one clear error
        with pytest.raises(BackendError, match="cannot generate"):
            backend.generate([GenerateRequest(REQUESTS[0].prompt, 4)])
        return
    texts = backend.generate([GenerateRequest(r.prompt, 4) for r in REQUESTS])
    assert len(texts) == len(REQUESTS) and all(isinstance(t, str) for t in texts)


def test_the_output_cache_answers_a_repeat_without_a_model_call(backend: Backend, tmp_path: Path) -> None:
    cached = CachingBackend(backend, tmp_path / "c.sqlite")
    first = cached.score_options(REQUESTS)
    calls = cached.calls
    assert cached.score_options(REQUESTS) == first and cached.calls == calls
