"""An on-disk cache in front of any backend, so reruns and resumed runs skip finished work.

Results are stored in SQLite, keyed by the backend fingerprint, the call kind and the full
request, and committed after every batch: a run killed at any point loses at most the batch
in flight.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from qa4re.backends.base import Backend, GenerateRequest, OptionScores, ScoreRequest, Usage
from qa4re.types import AnswerSource

R = TypeVar("R")
Q = TypeVar("Q", ScoreRequest, GenerateRequest)


def request_key(fingerprint: str, kind: str, request: ScoreRequest | GenerateRequest) -> str:
    """Cache key of one request for one backend."""
    if isinstance(request, ScoreRequest):
        payload: list[Any] = [fingerprint, kind, request.prompt, list(request.answers), request.system]
        if request.answer_prefix:  # appended only when set, so earlier caches stay valid
            payload.append(request.answer_prefix)
    else:
        payload = [fingerprint, kind, request.prompt, request.max_new_tokens, list(request.stop), request.system]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def _encode_scores(scores: OptionScores) -> str:
    # JSON has no -inf: store it as null.
    logprobs = {a: (v if math.isfinite(v) else None) for a, v in scores.logprobs.items()}
    data = {"logprobs": logprobs, "complete": scores.complete, "source": AnswerSource(scores.source).value, "text": scores.text}
    optional = {"tokens": scores.tokens, "lengths": scores.lengths}
    return json.dumps(data | {k: v for k, v in optional.items() if v is not None})


def _decode_scores(text: str) -> OptionScores:
    data = json.loads(text)
    logprobs = {a: (-math.inf if v is None else float(v)) for a, v in data["logprobs"].items()}
    source = AnswerSource(data.get("source", "logprobs"))
    return OptionScores(logprobs, bool(data["complete"]), source, text=data.get("text"), tokens=data.get("tokens"), lengths=data.get("lengths"))


class CachingBackend:
    """Wraps ``backend``; answers from ``path`` (SQLite) what it has seen before.

    ``calls`` counts the requests that reached the wrapped backend; ``requests`` counts all of
    them, answered from the cache or not (the cost of a method, whatever was cached), and
    ``tokens`` the tokens their scores report (local models count them; served ones do not).
    """

    def __init__(self, backend: Backend, path: Path) -> None:
        self.backend = backend
        self.fingerprint = backend.fingerprint
        self.max_batch_size = backend.max_batch_size
        self.capabilities = backend.capabilities
        self.max_letter_options = backend.max_letter_options
        self.commit_every: int | None = getattr(backend, "commit_every", None)  # optional: a backend that answers request by request
        self.usage: Usage | None = getattr(backend, "usage", None)  # optional: tokens a server reported
        self.calls = 0
        self.requests = 0
        self.tokens = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # Callers serialize their calls; the HTTP service makes them from a worker thread.
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk).fetchall())
        return found

    def _through(
        self,
        kind: str,
        requests: Sequence[Q],
        call: Callable[[Sequence[Q]], list[R]],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> list[R]:
        keys = [request_key(self.fingerprint, kind, r) for r in requests]
        self.requests += len(keys)
        results: dict[str, R] = {k: decode(v) for k, v in self._lookup(keys).items()}
        missing = sorted({k: i for i, k in enumerate(keys) if k not in results}.values())
        # Backends that answer request by request (HTTP) say how many to commit at a time, so a
        # killed run loses at most that many finished results; batch backends get the whole list.
        step = self.commit_every or len(missing) or 1
        for start in range(0, len(missing), step):
            part = missing[start : start + step]
            fresh = call([requests[i] for i in part])
            self.calls += len(part)
            # A request that failed on its own (``error`` set) is returned but not stored: a rerun retries it.
            rows = [(keys[i], encode(result)) for i, result in zip(part, fresh, strict=True) if getattr(result, "error", None) is None]
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?)", rows)
            self._db.commit()
            results.update((keys[i], result) for i, result in zip(part, fresh, strict=True))
        return [results[k] for k in keys]

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """Cached :meth:`Backend.score_options`."""
        scores = self._through("score", requests, self.backend.score_options, _encode_scores, _decode_scores)
        self.tokens += sum(s.tokens or 0 for s in scores)
        return scores

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Cached :meth:`Backend.generate`."""
        return self._through("generate", requests, self.backend.generate, json.dumps, json.loads)

    def release(self) -> None:
        """Let the wrapped backend release what it keeps between calls (a transformers model's prefix states), if anything."""
        release = getattr(self.backend, "release", None)
        if callable(release):
            release()

    def close(self) -> None:
        """Close the cache and the wrapped backend."""
        self._db.close()
        self.backend.close()
