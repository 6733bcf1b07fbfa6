"""`qa4re serve`: a real uvicorn on loopback with the embedded model, answering real HTTP requests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from helpers import start_service

CITIES = ["Warsaw", "Paris", "Berlin", "Madrid", "Vienna"]
STARTUP: list[str] = []  # the service's first line on stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def document(name: str, city: str) -> dict[str, Any]:
    text = f"{name} was born in {city}."
    return {"id": f"{name}-{city}", "text": text, "entities": [
        {"start": 0, "end": len(name), "type": "PERSON"}, {"start": text.index(city), "end": text.index(city) + len(city), "type": "CITY"}]}  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, news_pipeline: Path) -> Iterator[str]:
    cache = tmp_path_factory.mktemp("serve") / "c.sqlite"
    process, base, _ = start_service("--schema", "tacred", "--cache", cache, "--max-body-bytes", "65536", "--ner", news_pipeline, stderr=subprocess.PIPE)
    try:
        for _ in range(50):  # the startup line comes before uvicorn's own lines
            line = process.stderr.readline() if process.stderr is not None else ""
            if line.startswith("qa4re serve:") or not line:
                STARTUP.append(line)
                break
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_extract_returns_triples_with_offsets(service: str) -> None:
    doc = document("Marie Curie", "Warsaw")
    status, answer = post(service + "/extract", json.dumps({**doc, "include_na": True}).encode())
    assert status == 200 and answer["id"] == doc["id"] and answer["pairs"] == 1  # CITY -> PERSON is ruled out by the constraints
    (found,) = answer["triples"]
    assert (found["subject"]["text"], found["object"]["text"]) == ("Marie Curie", "Warsaw")
    assert doc["text"][found["object"]["start"] : found["object"]["end"]] == "Warsaw" and 0 < found["confidence"] <= 1


def test_plain_text_goes_through_the_services_spacy_pipeline(service: str) -> None:
    text = "Tim Cook is the chief executive of Apple. Apple is based in Cupertino, California."
    status, answer = post(service + "/extract", json.dumps({"text": text, "include_na": True}).encode())
    assert status == 200 and answer["pairs"] >= 2
    pairs = {(t["subject"]["text"], t["object"]["text"]) for t in answer["triples"]}
    assert ("Tim Cook", "Apple") in pairs and ("Apple", "Cupertino") in pairs
    assert all(text[t["object"]["start"] : t["object"]["end"]] == t["object"]["text"] and t["evidence"] in text for t in answer["triples"])


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        (json.dumps({"id": "no text"}).encode(), 422, "text: missing"),
        (json.dumps([1, 2]).encode(), 422, "expected a JSON object"),
        (json.dumps({"text": "abc", "entities": [{"start": 0, "end": 9}]}).encode(), 422, "entities[0]: span [0, 9) is outside the text"),
        (json.dumps({"text": "a" * 70000, "entities": []}).encode(), 413, "over the limit of 65536"),
        (json.dumps({"text": "abc", "entities": [], "threshold": 2}).encode(), 422, "threshold: must be between 0 and 1, got 2"),
    ],
)
def test_bad_requests_get_4xx_and_the_service_stays_up(service: str, body: bytes, status: int, message: str) -> None:
    code, answer = post(service + "/extract", body)
    assert code == status and message in answer["error"]
    assert json.loads(urllib.request.urlopen(service + "/health", timeout=5).read())["status"] == "ok"


def test_the_service_says_what_it_serves_when_it_starts(service: str) -> None:
    assert STARTUP and STARTUP[0].startswith("qa4re serve: schema qa4re.tacred.v1, model transformers:embedded:")
    assert f"listening on {service} (docs at /docs)" in STARTUP[0]


def test_openapi_docs_describe_the_endpoints(service: str) -> None:
    spec = json.loads(urllib.request.urlopen(service + "/openapi.json", timeout=5).read())
    assert {"/extract", "/health", "/ready"} <= set(spec["paths"])
    one, batch = spec["paths"]["/extract"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert one["required"] == ["text"] and one["properties"]["threshold"]["maximum"] == 1
    assert batch["required"] == ["documents"] and batch["properties"]["documents"]["items"] == one
    assert urllib.request.urlopen(service + "/docs", timeout=5).status == 200


def test_a_request_without_candidate_pairs_says_why(service: str) -> None:
    text = "Anna Berg works for Northwind."
    body = {"text": text, "entities": [{"start": 0, "end": 9}, {"start": 20, "end": 29}]}
    status, answer = post(service + "/extract", json.dumps(body).encode())
    assert status == 200 and answer["pairs"] == 0
    assert answer["warnings"] == [
        "no candidate pairs: 2 mentions have no type, and the schema's type constraints need types; "
        "give each entity a type, or turn the constraints off (--no-constraints)"
    ]


def test_requests_without_an_id_get_distinct_ids(service: str) -> None:
    body = {k: v for k, v in document("Ada Lovelace", "Paris").items() if k != "id"}
    ids = {post(service + "/extract", json.dumps(body).encode())[1]["id"] for _ in range(2)}
    assert len(ids) == 2 and all(i.startswith("request:") for i in ids)


def test_a_hundred_concurrent_requests_are_all_answered(service: str) -> None:
    docs = [document(name, city) for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus Pauling") for city in CITIES] * 5
    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(lambda d: post(service + "/extract", json.dumps({**d, "include_na": True}).encode()), docs))
    assert len(answers) == 100 and all(status == 200 for status, _ in answers)
    assert all(answer["id"] == doc["id"] and len(answer["triples"]) == 1 for doc, (_, answer) in zip(docs, answers, strict=True))


def overlong_document() -> dict[str, Any]:
    """One pair whose prompt exceeds the embedded model's context of 8192 tokens: a failed pair, every time."""
    text = "Anna Berg was born in Oslo" + " and then" * 4500 + "."
    entities = [{"start": 0, "end": 9, "type": "PERSON"}, {"start": 22, "end": 26, "type": "CITY"}]
    return {"id": "long", "text": text, "entities": entities, "sentences": [[0, len(text)]]}


def comparable(record: dict[str, Any]) -> tuple[Any, ...]:
    """A triple or failed pair without its document id, confidence to three places (batches may differ in padding)."""
    confidence = record["confidence"]
    return (record["subject"], record["relation"], record["object"], None if confidence is None else round(confidence, 3), record["evidence"],
            record.get("error", "")[:60])  # fmt: skip


def test_extract_the_service_and_spacy_give_the_same_triples_and_the_same_failed_pair(service: str, tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import Doc

    docs = [document("Marie Curie", "Warsaw"), overlong_document(), document("Paul Weber", "Berlin")]
    # qa4re extract
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    command = [sys.executable, "-m", "qa4re", "extract", "--schema", "tacred", "--input", str(tmp_path / "docs.jsonl"), "--output", str(tmp_path / "out.jsonl"),
               "--include-na", "--cache", str(tmp_path / "cli.sqlite")]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    by_cli = [[comparable(r) for r in lines if r["doc_id"] == d["id"]] for d in docs]
    # POST /extract
    answers = [post(service + "/extract", json.dumps({**d, "include_na": True}).encode())[1] for d in docs]
    by_service = [[comparable(r) for r in (*a["triples"], *a["errors"])] for a in answers]
    # nlp.pipe
    nlp = spacy.blank("en")
    nlp.add_pipe("qa4re", config={"schema": "tacred", "include_na": True, "cache": str(tmp_path / "spacy.sqlite")})
    spacy_docs = []
    for d in docs:
        doc = nlp.make_doc(d["text"])
        doc.ents = [doc.char_span(e["start"], e["end"], label=e["type"]) for e in d["entities"]]  # type: ignore[misc]
        spacy_docs.append(doc)
    piped: list[Doc] = list(nlp.get_pipe("qa4re").pipe(spacy_docs))  # type: ignore[attr-defined]
    by_spacy = [[comparable(r) for r in (*doc._.relations, *doc._.relation_errors)] for doc in piped]

    assert by_cli == by_service == by_spacy
    assert [len(x) for x in by_cli] == [1, 1, 1]
    failed = by_cli[1][0]
    assert failed[1] is None and failed[3] is None and failed[5].startswith("model call failed: BackendError: the prompt has")
    assert all(x[0][1] is not None for x in (by_cli[0], by_cli[2]))
