"""HTTP service: POST /extract (a document with entity spans) -> triples; GET /health.

The model is loaded once. Requests that arrive together are scored together: a single worker
drains the queue of waiting requests, runs their pairs through the extractor as one stream (in
a thread, so the event loop keeps answering), and hands each request its own triples.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from qa4re.backends.base import Backend
from qa4re.errors import DataError
from qa4re.extract.pairs import Document, candidate_pairs, parse_document, triple
from qa4re.extract.pipeline import Extractor, ExtractorConfig
from qa4re.schemas.model import RelationSchema
from qa4re.types import ErrorRecord, RelationInstance


@dataclass
class ServiceLimits:
    """Bounds on one request."""

    max_body_bytes: int = 64 * 1024
    max_entities: int = 20
    max_pairs: int = 100
    max_batch_pairs: int = 256  # pairs scored together across waiting requests


@dataclass
class _Job:
    document: Document
    pairs: list[RelationInstance]
    threshold: float
    include_na: bool
    done: asyncio.Future[list[dict[str, Any]]]


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(schema: RelationSchema, backend: Backend, config: ExtractorConfig | None = None, limits: ServiceLimits | None = None) -> FastAPI:
    """The FastAPI app around one loaded backend."""
    limits = limits or ServiceLimits()
    extractor = Extractor(schema, backend, config or ExtractorConfig())
    queue: asyncio.Queue[_Job] = asyncio.Queue()

    def score(jobs: list[_Job]) -> list[list[dict[str, Any]]]:
        pairs = [(j, p) for j in jobs for p in j.pairs]
        results: dict[int, list[dict[str, Any]]] = {id(j): [] for j in jobs}
        for (job, pair), output in zip(pairs, extractor.predict(p for _, p in pairs), strict=True):
            if isinstance(output, ErrorRecord):
                results[id(job)].append({"subject": pair.subj_text, "object": pair.obj_text, "error": output.message})
            elif output.relation is not None and output.confidence >= job.threshold and (job.include_na or output.relation != schema.na_relation):
                results[id(job)].append(triple(job.document.id, pair, output))
        return [results[id(j)] for j in jobs]

    async def worker() -> None:
        while True:
            jobs = [await queue.get()]
            while not queue.empty() and sum(len(j.pairs) for j in jobs) < limits.max_batch_pairs:
                jobs.append(queue.get_nowait())
            try:
                answers = await asyncio.to_thread(score, jobs)
                for job, answer in zip(jobs, answers, strict=True):
                    job.done.set_result(answer)
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

    @app.post("/extract")
    async def extract(request: Request) -> JSONResponse:
        """Body: ``{"text": ..., "entities": [{"start", "end", "type"}], "id"?, "threshold"?, "include_na"?}``."""
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
            document = parse_document(record, "request", 1)
            threshold = record.get("threshold", 0.0)
            if not isinstance(threshold, int | float) or isinstance(threshold, bool):
                raise DataError("request", 1, "threshold", f"expected a number, got {type(threshold).__name__}")
        except DataError as exc:
            return _problem(422, f"{exc.field or 'body'}: {exc.reason}")
        if len(document.entities) > limits.max_entities:
            return _problem(422, f"entities: {len(document.entities)} mentions, over the limit of {limits.max_entities}")
        pairs = candidate_pairs(document, schema, max_entities=limits.max_entities, max_pairs=limits.max_pairs)
        job = _Job(document, pairs, float(threshold), bool(record.get("include_na", False)), asyncio.get_running_loop().create_future())
        await queue.put(job)
        try:
            triples = await job.done
        except Exception as exc:  # noqa: BLE001
            return _problem(503, f"model failed: {type(exc).__name__}: {exc}")
        return JSONResponse({"id": document.id, "pairs": len(pairs), "triples": triples})

    return app
