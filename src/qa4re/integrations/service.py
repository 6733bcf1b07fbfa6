"""HTTP service: POST /extract (a document, or a batch of them) -> triples; GET /health and /ready.

The model is loaded once. Documents that arrive together are handled together: a single worker
drains the queue of waiting documents, runs their texts through spaCy and their pairs through the
extractor as one stream (in a thread, so the event loop keeps answering), and hands each request
its own triples.

What the service guarantees, and how each guarantee is tested, is in the README (Reliability):

- **bounded wait**: at most ``max_pending`` documents wait or run; beyond that a request gets 429
  with ``Retry-After``; a request not answered within ``request_timeout`` seconds gets 504, and its
  documents that have not started are dropped;
- **draining**: after :meth:`ServiceState.drain` (SIGTERM in ``qa4re serve``) new requests get 503
  and ``/ready`` says so, while the requests in flight are finished;
- **access**: with an API key, every endpoint but ``/health`` needs ``Authorization: Bearer <key>``
  (401 otherwise; compared in constant time; never logged);
- **one JSON log line per request** (logger ``qa4re.service``): its id, status, documents, pairs,
  triples, errors and the milliseconds spent waiting, in the model and in all; no document text
  unless ``log_documents``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import itertools
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from qa4re.backends.base import Backend
from qa4re.errors import DataError
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DEFAULTS, DocumentExtractor, DocumentResult, DocumentSettings
from qa4re.extract.jobs import mention_types, no_pairs_reason
from qa4re.extract.pairs import Document, parse_document
from qa4re.extract.pipeline import Extractor
from qa4re.integrations.limits import ServiceLimits
from qa4re.schemas.entity_types import IDENTITY, EntityTypeMap
from qa4re.schemas.model import RelationSchema

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger("qa4re.service")
OPEN_PATHS = frozenset({"/health"})  # answered without a key: a load balancer's liveness probe


@dataclass
class ServiceState:
    """What the service knows of itself: documents pending, whether it drains, how fast it answers."""

    pending: int = 0
    draining: bool = False
    seconds_per_document: float = 0.5  # a running mean, for Retry-After
    answered: int = 0

    def drain(self) -> None:
        """Stop taking requests (503) and let those in flight finish."""
        self.draining = True

    def observe(self, documents: int, seconds: float) -> None:
        if documents:
            self.seconds_per_document = 0.8 * self.seconds_per_document + 0.2 * seconds / documents
            self.answered += documents

    def retry_after(self) -> int:
        """Seconds until the queue has likely room again (at least 1)."""
        return max(1, math.ceil(self.pending * self.seconds_per_document))


@dataclass
class _Job:
    document: Document
    threshold: float
    include_na: bool
    done: asyncio.Future[dict[str, Any]]
    cancelled: bool = False  # the request timed out before its turn: the worker skips it
    model_seconds: float = 0.0  # the worker's pass that answered it


DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "example": "Tim Cook is the chief executive of Apple."},
        "entities": {"type": "array", "items": {"type": "object", "required": ["start", "end"],
                     "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}, "type": {"type": "string"}}}},
        "sentences": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
        "id": {"type": "string"},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "include_na": {"type": "boolean"},
    },
}  # fmt: skip
REQUEST_SCHEMA: dict[str, Any] = {
    "oneOf": [DOCUMENT_SCHEMA, {"type": "object", "required": ["documents"], "properties": {"documents": {"type": "array", "items": DOCUMENT_SCHEMA}}}]
}


def _problem(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def bearer_ok(header: str | None, key: str) -> bool:
    """Whether an ``Authorization`` header carries ``key`` as a bearer token (constant-time comparison)."""
    scheme, _, token = (header or "").partition(" ")
    return hmac.compare_digest(token.strip().encode("utf-8"), key.encode("utf-8")) and scheme.lower() == "bearer"


def create_app(
    schema: RelationSchema,
    backend: Backend,
    config: ExtractorConfig | None = None,
    limits: ServiceLimits | None = None,
    document_settings: DocumentSettings = DEFAULTS,
    nlp: Language | None = None,
    entity_types: EntityTypeMap = IDENTITY,
    api_key: str | None = None,
    state: ServiceState | None = None,
    log_documents: bool = False,
) -> FastAPI:
    """The FastAPI app around one loaded backend (and, for texts without spans, one spaCy pipeline).

    ``api_key``: the bearer key every endpoint but ``/health`` needs (None: open). ``state``: shared
    with whoever drains the service on shutdown. ``document_settings``: the bounds of the document
    pipeline (mentions per sentence, pairs per document), as extract and the spaCy component take them.
    """
    limits = limits or ServiceLimits()
    state = state or ServiceState()
    extractor = Extractor(schema, backend, config or ExtractorConfig())
    # Each request sets its own threshold and include_na: everything is kept here and filtered per request.
    kept = dataclasses.replace(document_settings, threshold=0.0, include_na=True)
    documents = DocumentExtractor(extractor, kept, nlp=nlp, entity_types=entity_types, chunk=limits.max_batch_requests)
    queue: asyncio.Queue[_Job] = asyncio.Queue()

    def answer(jobs: list[_Job]) -> list[dict[str, Any]]:
        answers = []
        for job, result in zip(jobs, documents.extract(j.document for j in jobs), strict=True):
            assert isinstance(result, DocumentResult)  # requests are validated before they are queued
            kept = [t for t in result.triples if t.confidence >= job.threshold and (job.include_na or t.relation != schema.na_relation)]
            answer: dict[str, Any] = {"id": result.document.id, "pairs": result.pairs, "triples": [t.to_json() for t in kept],
                                      "errors": [e.to_json() for e in result.errors]}  # fmt: skip
            if not result.pairs:
                answer["warnings"] = [no_pairs_reason(mention_types(result.document), set(schema.entity_types) if extractor.config.constraints else set())]
            answers.append(answer)
        return answers

    async def worker() -> None:
        while True:
            jobs = [await queue.get()]
            while not queue.empty() and len(jobs) < limits.max_batch_requests:
                jobs.append(queue.get_nowait())
            jobs = [j for j in jobs if not j.cancelled]  # timed out while waiting: their work is dropped
            if not jobs:
                continue
            started = time.perf_counter()
            try:
                answers = await asyncio.to_thread(answer, jobs)
                for job, result in zip(jobs, answers, strict=True):
                    job.model_seconds = time.perf_counter() - started
                    if not job.done.done():
                        job.done.set_result(result)
            except Exception as exc:  # noqa: BLE001 - every waiting request gets an answer
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)
            state.observe(len(jobs), time.perf_counter() - started)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(worker())
        yield
        task.cancel()

    app = FastAPI(title="qa4re", description="Zero-shot relation extraction as multiple-choice QA (QA4RE).", lifespan=lifespan)
    app.state.service = state

    @app.middleware("http")
    async def authorize(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if api_key is not None and request.url.path not in OPEN_PATHS and not bearer_ok(request.headers.get("authorization"), api_key):
            return _problem(401, "missing or wrong API key (Authorization: Bearer <key>)", {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Alive: the process answers."""
        return {"status": "ok", "model": backend.fingerprint, "schema": schema.name, "waiting": queue.qsize(), "pending": state.pending}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Ready: the model is loaded, the service is not draining and its queue has room."""
        room = state.pending < limits.max_pending
        status = "draining" if state.draining else "ready" if room else "full"
        return JSONResponse({"status": status, "pending": state.pending, "max_pending": limits.max_pending}, status_code=200 if status == "ready" else 503)

    counter = itertools.count(1)

    def parse_one(record: Any, line: int) -> _Job:
        if isinstance(record, dict) and "id" not in record:
            record = {**record, "id": f"request:{next(counter)}"}  # a distinct id per document without one
        document = parse_document(record, "request", line, entities_optional=nlp is not None)
        threshold = record.get("threshold", 0.0)
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise DataError("request", line, "threshold", f"expected a number, got {type(threshold).__name__}")
        if not 0.0 <= threshold <= 1.0:
            raise DataError("request", line, "threshold", f"must be between 0 and 1, got {threshold}")
        if len(document.entities) > limits.max_mentions:
            raise DataError("request", line, "entities", f"{len(document.entities)} mentions, over the limit of {limits.max_mentions}")
        return _Job(document, float(threshold), bool(record.get("include_na", False)), asyncio.get_running_loop().create_future())

    def logged(response: JSONResponse, request_id: str, started: float, jobs: list[_Job], results: list[dict[str, Any]]) -> JSONResponse:
        line: dict[str, Any] = {
            "event": "request", "id": request_id, "status": response.status_code, "documents": len(jobs),
            "pairs": sum(r.get("pairs", 0) for r in results), "triples": sum(len(r.get("triples", ())) for r in results),
            "errors": sum(len(r.get("errors", ())) + ("error" in r) for r in results),
            "model_ms": round(1000 * max((j.model_seconds for j in jobs), default=0.0), 1), "total_ms": round(1000 * (time.perf_counter() - started), 1),
        }  # fmt: skip
        line["queue_ms"] = round(max(0.0, line["total_ms"] - line["model_ms"]), 1)
        if log_documents:
            line["texts"] = [j.document.text for j in jobs]
        log.info(json.dumps(line, ensure_ascii=False))
        return response

    @app.post("/extract", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}}})
    async def extract(request: Request) -> JSONResponse:
        """Body: one document ``{"text": ..., "entities"?: [{"start", "end", "type"}], "id"?, "threshold"?, "include_na"?}``,
        or a batch ``{"documents": [document, ...]}`` answered in order as ``{"documents": [answer, ...]}``.

        Without ``entities``, the service's spaCy pipeline finds them (422 when it has none).
        """
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or f"r{next(counter)}"
        jobs: list[_Job] = []

        def finish(response: JSONResponse, results: list[dict[str, Any]] | None = None) -> JSONResponse:
            response.headers["X-Request-Id"] = request_id
            return logged(response, request_id, started, jobs, results or [])

        if state.draining:
            return finish(_problem(503, "the service is shutting down; retry on another instance", {"Retry-After": "1"}))
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return finish(_problem(413, f"body of {declared} bytes is over the limit of {limits.max_body_bytes}"))
        body = await request.body()
        if len(body) > limits.max_body_bytes:
            return finish(_problem(413, f"body of {len(body)} bytes is over the limit of {limits.max_body_bytes}"))
        try:
            record = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return finish(_problem(400, f"body is not JSON: {exc}"))
        batch = isinstance(record, dict) and "documents" in record
        records = record["documents"] if batch else [record]
        if batch and (not isinstance(records, list) or not records):
            return finish(_problem(422, "documents: expected a non-empty list of documents"))
        if len(records) > limits.max_documents:
            return finish(_problem(422, f"documents: {len(records)} documents, over the limit of {limits.max_documents}"))
        parsed: list[_Job | dict[str, Any]] = []
        for index, item in enumerate(records):
            try:
                parsed.append(parse_one(item, index + 1))
            except DataError as exc:
                if not batch:
                    return finish(_problem(422, f"{exc.field or 'body'}: {exc.reason}"))
                identifier = item.get("id") if isinstance(item, dict) else None
                parsed.append({"id": None if identifier is None else str(identifier), "error": f"{exc.field or 'document'}: {exc.reason}"})
        jobs = [p for p in parsed if isinstance(p, _Job)]
        if state.pending + len(jobs) > limits.max_pending:
            return finish(_problem(429, f"{state.pending} documents pending, the limit is {limits.max_pending}", {"Retry-After": str(state.retry_after())}))
        state.pending += len(jobs)
        try:
            for job in jobs:
                await queue.put(job)
            waiting = asyncio.gather(*(asyncio.shield(j.done) for j in jobs))
            try:
                answers = await asyncio.wait_for(waiting, limits.request_timeout) if jobs else []
            except TimeoutError:
                for job in jobs:
                    job.cancelled = True
                return finish(_problem(504, f"not answered within {limits.request_timeout:g} s; its work is dropped"))
            except Exception as exc:  # noqa: BLE001
                return finish(_problem(503, f"model failed: {type(exc).__name__}: {exc}"))
        finally:
            state.pending -= len(jobs)
        by_job = iter(answers)
        results = [next(by_job) if isinstance(p, _Job) else p for p in parsed]
        return finish(JSONResponse({"documents": results} if batch else results[0]), results)

    return app
