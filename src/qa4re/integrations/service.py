"""HTTP service: POST /extract (a text, with entity spans or for spaCy to find them) -> triples; GET /health.

The model is loaded once. Requests that arrive together are handled together: a single worker
drains the queue of waiting requests, runs their texts through spaCy and their pairs through the
extractor as one stream (in a thread, so the event loop keeps answering), and hands each request
its own triples.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from qa4re.backends.base import Backend
from qa4re.errors import DataError
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DocumentExtractor, DocumentResult
from qa4re.extract.jobs import mention_types, no_pairs_reason
from qa4re.extract.pairs import Document, parse_document
from qa4re.extract.pipeline import Extractor
from qa4re.schemas.entity_types import IDENTITY, EntityTypeMap
from qa4re.schemas.model import RelationSchema

if TYPE_CHECKING:
    from spacy.language import Language


@dataclass
class ServiceLimits:
    """Bounds on one request."""

    max_body_bytes: int = 64 * 1024
    max_entities: int = 20
    max_pairs: int = 100
    max_batch_requests: int = 32  # waiting requests handled together


@dataclass
class _Job:
    document: Document
    threshold: float
    include_na: bool
    done: asyncio.Future[dict[str, Any]]


REQUEST_SCHEMA: dict[str, Any] = {
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


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    schema: RelationSchema,
    backend: Backend,
    config: ExtractorConfig | None = None,
    limits: ServiceLimits | None = None,
    nlp: Language | None = None,
    entity_types: EntityTypeMap = IDENTITY,
) -> FastAPI:
    """The FastAPI app around one loaded backend (and, for texts without spans, one spaCy pipeline)."""
    limits = limits or ServiceLimits()
    extractor = Extractor(schema, backend, config or ExtractorConfig())
    # Each request sets its own threshold; everything is kept here and filtered per request.
    documents = DocumentExtractor(extractor, threshold=0.0, include_na=True, max_entities=limits.max_entities, max_pairs=limits.max_pairs, nlp=nlp,
                                  entity_types=entity_types, chunk=limits.max_batch_requests)  # fmt: skip
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
            try:
                answers = await asyncio.to_thread(answer, jobs)
                for job, result in zip(jobs, answers, strict=True):
                    job.done.set_result(result)
            except Exception as exc:  # noqa: BLE001 - every waiting request gets an answer
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(worker())
        yield
        task.cancel()

    app = FastAPI(title="qa4re", description="Zero-shot relation extraction as multiple-choice QA (QA4RE).", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": backend.fingerprint, "schema": schema.name, "waiting": queue.qsize()}

    counter = itertools.count(1)

    @app.post("/extract", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}}})
    async def extract(request: Request) -> JSONResponse:
        """Body: ``{"text": ..., "entities"?: [{"start", "end", "type"}], "id"?, "threshold"?, "include_na"?}``.

        Without ``entities``, the service's spaCy pipeline finds them (422 when it has none).
        """
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return _problem(413, f"body of {declared} bytes is over the limit of {limits.max_body_bytes}")
        body = await request.body()
        if len(body) > limits.max_body_bytes:
            return _problem(413, f"body of {len(body)} bytes is over the limit of {limits.max_body_bytes}")
        try:
            record = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _problem(400, f"body is not JSON: {exc}")
        try:
            if isinstance(record, dict) and "id" not in record:
                record = {**record, "id": f"request:{next(counter)}"}  # a distinct id per request without one
            document = parse_document(record, "request", 1, entities_optional=nlp is not None)
            threshold = record.get("threshold", 0.0)
            if not isinstance(threshold, int | float) or isinstance(threshold, bool):
                raise DataError("request", 1, "threshold", f"expected a number, got {type(threshold).__name__}")
            if not 0.0 <= threshold <= 1.0:
                raise DataError("request", 1, "threshold", f"must be between 0 and 1, got {threshold}")
        except DataError as exc:
            return _problem(422, f"{exc.field or 'body'}: {exc.reason}")
        if len(document.entities) > limits.max_entities:
            return _problem(422, f"entities: {len(document.entities)} mentions, over the limit of {limits.max_entities}")
        job = _Job(document, float(threshold), bool(record.get("include_na", False)), asyncio.get_running_loop().create_future())
        await queue.put(job)
        try:
            result = await job.done
        except Exception as exc:  # noqa: BLE001
            return _problem(503, f"model failed: {type(exc).__name__}: {exc}")
        return JSONResponse(result)

    return app
