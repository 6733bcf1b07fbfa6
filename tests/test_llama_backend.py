"""The llama: backend: the embedded GGUF file run in process by llama.cpp (opt-in: ``-m llama``, run by .ci/run).

Token ids equal to the transformers backend's for the same file; scores of multi-token answers equal
to llama.cpp's own evaluation of each answer from scratch; prefix reuse that changes nothing; the
context check per request; greedy generation; the commands end to end.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from helpers import SEMEVAL, qa4re, read_jsonl, serving
from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, GenerateRequest, ScoreRequest
from qa4re.backends.transformers import TransformersBackend
from qa4re.datasets import OnError, read_dataset
from qa4re.extract.pipeline import ExtractorConfig, PreparedPrompt, PromptBuilder
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.llama, pytest.mark.model]

from qa4re.backends.llama import LlamaBackend, log_softmax  # noqa: E402


@pytest.fixture(scope="module")
def llama(embedded_llama: LlamaBackend) -> LlamaBackend:
    return embedded_llama


@pytest.fixture(scope="module")
def llama_bare() -> LlamaBackend:
    return LlamaBackend("default", chat_template=False)


def semeval_requests(method: str, n: int = 6, answer_prefix: str = "") -> list[ScoreRequest]:
    instances = [i for i in read_dataset("semeval", SEMEVAL / "TEST_FILE_FULL.TXT", OnError.SKIP) if isinstance(i, RelationInstance)][:n]
    builder = PromptBuilder(load_schema("semeval"), ExtractorConfig(method=method))
    prompts = [p.prompt for p in map(builder.prepare, instances) if isinstance(p, PreparedPrompt)]
    return [ScoreRequest(p.text, p.answers, DEFAULT_SYSTEM_MESSAGE, answer_prefix) for p in prompts]


@pytest.mark.parametrize("method", ["qa4re", "vanilla", "sure"])
@pytest.mark.parametrize("prefix", ["", "Option:"])
def test_token_ids_equal_the_transformers_backends_for_the_same_file(
    llama: LlamaBackend, llama_bare: LlamaBackend, embedded_backend: TransformersBackend, embedded_completion_backend: TransformersBackend,
    method: str, prefix: str,
) -> None:  # fmt: skip
    for request in semeval_requests(method, answer_prefix=prefix):
        assert llama.encoder.encode(request) == embedded_backend._encode(request)
        assert llama_bare.encoder.encode(request) == embedded_completion_backend._encode(request)


def test_letters_agree_with_transformers_on_the_paper_prompt(llama: LlamaBackend, embedded_backend: TransformersBackend) -> None:
    requests = semeval_requests("qa4re", n=12)
    ours, theirs = llama.score_options(requests), embedded_backend.score_options(requests)
    for request, a, b in zip(requests, ours, theirs, strict=True):
        assert a.error is None and set(a.logprobs) == set(request.answers)
        # Q4_1 weights in llama.cpp against the same weights de-quantized to fp32: close, not equal
        assert max(abs(a.logprobs[k] - b.logprobs[k]) for k in request.answers) < 0.5
    best = lambda s: max(s.logprobs, key=s.logprobs.__getitem__)  # noqa: E731
    assert sum(best(a) == best(b) for a, b in zip(ours, theirs, strict=True)) >= 10


def _from_scratch(llama: LlamaBackend, prompt: list[int], target: list[int]) -> float:
    """log P(target | prompt) with llama.cpp evaluating prompt + target[:-1] from an empty cache, every row's logits kept."""
    llama._ids = []
    rows = llama._decode([*prompt, *target[:-1]], 0, every_row=True)
    return sum(float(log_softmax(rows[len(prompt) - 1 + j])[t]) for j, t in enumerate(target))


# llama.cpp rounds a one-token batch differently from a longer one (measured on the embedded Q4_1 file: up to
# 0.51 nats on one logit), so an answer tree whose branches run as one-token batches matches a from-scratch
# evaluation to this much per token only; an answer scored alone (one chain) matches it exactly.
BATCH_ROUNDING = 0.25


@pytest.mark.parametrize("method", ["vanilla", "sure"])
def test_multi_token_answers_score_as_llama_cpp_evaluating_each_from_scratch(llama: LlamaBackend, method: str) -> None:
    request = semeval_requests(method, n=1)[0]
    encoded = llama.encoder.encode(request)
    assert max(len(t) for t in encoded.answer_ids.values()) > 2  # shared prefixes and branches in the answer tree
    scores = llama.score_options([request])[0].logprobs
    for answer, target in encoded.answer_ids.items():
        expected = _from_scratch(llama, encoded.prompt_ids, target)
        llama._ids = []
        alone = llama.score_options([ScoreRequest(request.prompt, (answer,), request.system, request.answer_prefix)])[0]
        assert alone.logprobs[answer] == pytest.approx(expected, abs=2e-3)  # one chain: exactly llama.cpp's own evaluation
        assert scores[answer] == pytest.approx(expected, abs=BATCH_ROUNDING * len(target))


def test_prefix_reuse_changes_no_score(llama: LlamaBackend) -> None:
    requests = semeval_requests("qa4re", n=4) + semeval_requests("vanilla", n=2)
    together = llama.score_options(requests)
    for request, result in zip(requests, together, strict=True):
        llama._ids = []  # nothing to reuse
        alone = llama.score_options([request])[0]
        assert alone.logprobs == pytest.approx(dict(result.logprobs), abs=2e-3)
    reversed_ = llama.score_options(requests[::-1])[::-1]
    for a, b in zip(together, reversed_, strict=True):
        assert a.logprobs == pytest.approx(dict(b.logprobs), abs=2e-3)


def test_a_prompt_past_the_context_is_its_own_error_record() -> None:
    small = LlamaBackend("default", context=256)  # llama.cpp rounds a context up to a multiple of 256
    long, short = ScoreRequest("word " * 600, ("A", "B")), ScoreRequest("Pick one.\nOption:", ("A", "B"))
    results = small.score_options([long, short])
    assert results[0].error and "more than the model's context of 256" in results[0].error and not results[0].logprobs
    assert results[1].error is None and all(math.isfinite(v) for v in results[1].logprobs.values())


def test_generate_is_greedy_and_cut_at_the_stop_string(llama: LlamaBackend) -> None:
    prompt = "Count: one, two, three, four,"
    text = llama.generate([GenerateRequest(prompt, 12, ("\n",))])[0]
    again = llama.generate([GenerateRequest(prompt, 12, (",",))])[0]
    assert text and "\n" not in text and text == llama.generate([GenerateRequest(prompt, 12, ("\n",))])[0]
    assert "," not in again and text.startswith(again)


def test_the_fingerprint_names_llama_and_differs_from_transformers(llama: LlamaBackend, embedded_backend: TransformersBackend) -> None:
    assert llama.fingerprint.startswith("llama:embedded:SmolLM2-135M-Instruct") and llama.fingerprint != embedded_backend.fingerprint


def test_placement_options_that_do_not_apply_are_refused() -> None:
    from qa4re.errors import BackendUnavailable, ConfigError

    with pytest.raises(ConfigError, match="--dtype bfloat16 does not apply to llama: models"):
        LlamaBackend("default", dtype="bfloat16")
    with pytest.raises(ConfigError, match="--device-map does not apply"):
        LlamaBackend("default", device_map="auto")
    with pytest.raises(BackendUnavailable, match="no such GGUF file"):
        LlamaBackend("missing.gguf")


# ---- the commands --------------------------------------------------------------------------


def test_evaluate_predict_and_extract_run_on_llama(tmp_path: Path) -> None:
    out = tmp_path / "run"
    qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "4", "--output", out, "--model", "llama:default", "--cache", tmp_path / "c.sqlite")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["model"]["fingerprint"].startswith("llama:embedded:") and len(read_jsonl(out / "predictions.jsonl")) == 4
    pair = {
        "id": "a", "text": "Paul Weber was born in Hamburg.",
        "subj": {"start": 0, "end": 10, "type": "PERSON"}, "obj": {"start": 23, "end": 30, "type": "CITY"},
    }  # fmt: skip
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(pair) + "\n")
    qa4re("predict", "--schema", "tacred", "--input", data, "--output", tmp_path / "p.jsonl", "--model", "llama:default", "--cache", tmp_path / "c.sqlite")
    assert read_jsonl(tmp_path / "p.jsonl")[0]["prediction"]
    docs = tmp_path / "d.jsonl"
    docs.write_text(json.dumps({"id": "d", "text": pair["text"], "entities": [pair["subj"], pair["obj"]]}) + "\n")
    extracted = qa4re("extract", "--schema", "tacred", "--input", docs, "--output", tmp_path / "t.jsonl", "--include-na", "--model", "llama:default",
                      "--cache", tmp_path / "c.sqlite")  # fmt: skip
    assert "llama:embedded:" in extracted.stderr and read_jsonl(tmp_path / "t.jsonl")


def test_dtype_for_a_llama_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "2", "--output", tmp_path / "o", "--model", "llama:default",
                   "--dtype", "bfloat16", check=False)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --dtype bfloat16 does not apply to llama: models")


def test_serve_runs_on_llama(tmp_path: Path) -> None:
    from test_serve import document, post

    with serving("--schema", "tacred", "--model", "llama:default", "--cache", tmp_path / "c.sqlite") as (base, health):
        assert health["model"].startswith("llama:embedded:")
        status, body = post(f"{base}/extract", json.dumps({**document("Anna Berg", "Oslo"), "include_na": True}).encode())
        assert status == 200 and body["triples"], body


