"""``--adapter`` reaches the loaded model from every entry point (backend, evaluate, predict, extract, serve, grids,
spaCy, the Python API; the Ray engine: test_ray.py) and is part of the fingerprint, so caches never mix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import SEMEVAL, qa4re, serving

PAIR = {
    "id": "a", "text": "Paul Weber was born in Hamburg.", "subj": {"start": 0, "end": 10, "type": "PERSON"}, "obj": {"start": 23, "end": 30, "type": "CITY"},
}  # fmt: skip


def test_the_adapter_changes_the_scores_and_the_fingerprint(random_adapter: Path, embedded_backend: object) -> None:
    from qa4re.backends.base import ScoreRequest
    from qa4re.backends.transformers import TransformersBackend

    tuned = TransformersBackend("default", batch_size=4, adapter=str(random_adapter))
    request = ScoreRequest("Which letter comes first?\nA. B\nB. A\nOption:", ("A", "B"))
    base_scores = embedded_backend.score_options([request])[0].logprobs  # type: ignore[attr-defined]
    tuned_scores = tuned.score_options([request])[0].logprobs
    assert tuned.fingerprint == embedded_backend.fingerprint.replace(":causal", f"+adapter:{tuned.fingerprint.split('+adapter:')[1][:16]}:causal")  # type: ignore[attr-defined]
    assert abs(tuned_scores["A"] - base_scores["A"]) > 1e-3


def test_evaluate_with_an_adapter_does_not_reuse_the_base_models_cache(tmp_path: Path, random_adapter: Path) -> None:
    args = ("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "3", "--cache", tmp_path / "c.sqlite")
    qa4re(*args, "--output", tmp_path / "base")
    qa4re(*args, "--output", tmp_path / "tuned", "--adapter", random_adapter)
    base, tuned = (json.loads((tmp_path / name / "metrics.json").read_text())["run"] for name in ("base", "tuned"))
    assert "+adapter:" in tuned["model"]["fingerprint"] and "+adapter:" not in base["model"]["fingerprint"]
    assert tuned["model_calls"] == base["model_calls"] > 0


def test_predict_and_extract_load_the_adapter(tmp_path: Path, random_adapter: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(PAIR) + "\n")
    predicted = qa4re("predict", "--schema", "tacred", "--input", data, "--output", tmp_path / "p.jsonl", "--adapter", random_adapter)
    assert "+adapter:" in predicted.stderr.replace("\n", "")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d", "text": PAIR["text"], "entities": [PAIR["subj"], PAIR["obj"]]}) + "\n")
    extracted = qa4re("extract", "--schema", "tacred", "--input", docs, "--output", tmp_path / "t.jsonl", "--include-na", "--adapter", random_adapter)
    assert "+adapter:" in extracted.stderr.replace("\n", "")


def test_a_grid_gives_each_model_entry_its_own_adapter(tmp_path: Path, random_adapter: Path) -> None:
    config = tmp_path / "grid.yaml"
    config.write_text(f"""
name: adapters
variants: [qa4re]
models:
  - {{name: base, model: default}}
  - {{name: tuned, model: default, adapter: {random_adapter}}}
datasets:
  - {{dataset: semeval, data: {SEMEVAL}, limit: 2}}
""")
    qa4re("experiment", config, "--output", tmp_path / "out")
    fingerprints = {c["model"]: c["fingerprint"] for c in json.loads((tmp_path / "out" / "results.json").read_text())["cells"]}
    assert "+adapter:" in fingerprints["tuned"] and "+adapter:" not in fingerprints["base"]


def test_the_spacy_factory_and_the_api_take_the_adapter(tmp_path: Path, random_adapter: Path) -> None:
    import spacy

    import qa4re

    nlp = spacy.blank("en")
    component = nlp.add_pipe("qa4re", config={"schema": "tacred", "adapter": str(random_adapter), "cache": str(tmp_path / "c.sqlite")})
    assert "+adapter:" in component.extractor.backend.fingerprint  # type: ignore[attr-defined]
    rex = qa4re.RelationExtractor(["born in"], ner=None, adapter=str(random_adapter), cache=tmp_path / "c.sqlite")
    assert "+adapter:" in rex.backend.fingerprint
    triples = rex("Paul Weber was born in Hamburg.", entities=[(0, 10, "PERSON"), (23, 30, "CITY")])
    assert all(t.relation == "born in" and 0 <= t.confidence <= 1 for t in triples)


def test_serve_reports_the_adapter(tmp_path: Path, random_adapter: Path) -> None:
    with serving("--schema", "tacred", "--cache", tmp_path / "c.sqlite", "--adapter", random_adapter) as (_, health):
        assert "+adapter:" in health["model"]


def test_an_adapter_tuned_on_another_model_is_refused(tmp_path: Path, random_adapter: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(random_adapter, other)
    (other / "card.json").write_text(json.dumps({"base_fingerprint": "transformers:hub:Qwen/Qwen2.5-0.5B-Instruct:causal:chat=True"}))
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--output", tmp_path / "o", "--adapter", other, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --adapter {other}: tuned on transformers:hub:Qwen/Qwen2.5-0.5B-Instruct")


@pytest.mark.parametrize(("model", "message"), [("openai:gpt-4o-mini", "the openai backend cannot load a LoRA adapter"), ("default", "no such folder")])
def test_an_adapter_that_cannot_load_is_one_line_and_exit_2(tmp_path: Path, model: str, message: str) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--output", tmp_path / "o", "--model", model, "--adapter", tmp_path / "none",
                   check=False)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr.strip().splitlines()[-1]
