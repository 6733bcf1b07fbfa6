"""Every method, debiaser, selector and ablation on the embedded model keeps its predictions (a refactoring changes none).

The golden file holds, per setting, each example's prediction, answer, prompt hash and option
probabilities, recorded on the embedded SmolLM2 (and the tiny random NLI model for the NLI
baseline). Regenerate it only when a change is meant to change outputs, and say so:

    QA4RE_RECORD_GOLDEN=1 .venv/bin/pytest -q tests/test_golden_predictions.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, GOLDEN
from qa4re.backends.base import Backend
from qa4re.datasets import OnError, read_dataset
from qa4re.extract.pipeline import Extractor, ExtractorConfig, Scoring
from qa4re.schemas.loader import load_schema
from qa4re.types import RelationInstance

GOLDEN_FILE = GOLDEN / "predictions_by_setting.json"
EXAMPLES = 6

SETTINGS: dict[str, ExtractorConfig] = {
    "qa4re": ExtractorConfig(),
    "vanilla": ExtractorConfig(method="vanilla"),
    "vanilla-temp": ExtractorConfig(method="vanilla-temp"),
    "sure": ExtractorConfig(method="sure"),
    "qa4re-generate": ExtractorConfig(scoring=Scoring.GENERATE),
    "vanilla-generate": ExtractorConfig(method="vanilla", scoring=Scoring.GENERATE),
    "no-constraints": ExtractorConfig(constraints=False),
    "na-first": ExtractorConfig(na_first=True),
    "shuffled": ExtractorConfig(shuffle_options=True),
    "shared-demos-2shot": ExtractorConfig(shots=2, shared_demonstrations=True),
    "answer-prefix": ExtractorConfig(answer_prefix="Option:"),
    "na-threshold": ExtractorConfig(na_threshold=0.3),
    "permute": ExtractorConfig(debias="permute", permutations=3),
    "pride": ExtractorConfig(debias="pride", prior_samples=2),
    "content-free": ExtractorConfig(debias="content-free"),
    "tournament": ExtractorConfig(constraints=False, max_options=4),
    "preselect": ExtractorConfig(constraints=False, preselect=3),
    "nli": ExtractorConfig(method="nli"),
}


def _record(output: Any) -> dict[str, Any]:
    data = output.to_json()
    keep = ("id", "prediction", "answer", "prompt_sha256", "option_probabilities", "error")
    return {k: data[k] for k in keep if k in data}


def predictions(backend: Backend, nli: Backend) -> dict[str, list[dict[str, Any]]]:
    schema = load_schema("semeval")
    items = [i for i in read_dataset("semeval", FIXTURES / "semeval_small" / "TEST_FILE_FULL.TXT", OnError.SKIP) if isinstance(i, RelationInstance)]
    demos = [i for i in read_dataset("semeval", FIXTURES / "semeval_small" / "TRAIN_FILE.TXT", OnError.SKIP) if isinstance(i, RelationInstance)]
    out = {}
    for name, config in SETTINGS.items():
        model = nli if config.method == "nli" else backend
        out[name] = [_record(o) for o in Extractor(schema, model, config, demos if config.shots else ()).predict(items[:EXAMPLES])]
    return out


@pytest.fixture(scope="module")
def nli_backend(tiny_nli: Path) -> Backend:
    from qa4re.backends.nli import NLIBackend

    return NLIBackend(str(tiny_nli), batch_size=4)


def test_every_setting_keeps_its_predictions(embedded_backend: Backend, nli_backend: Backend) -> None:
    got = predictions(embedded_backend, nli_backend)
    if os.environ.get("QA4RE_RECORD_GOLDEN"):
        GOLDEN_FILE.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"recorded {GOLDEN_FILE}")
    golden = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(golden)
    for name, records in got.items():
        assert len(records) == len(golden[name]) == EXAMPLES, name
        for ours, theirs in zip(records, golden[name], strict=True):
            probabilities, expected = ours.pop("option_probabilities", None), theirs.pop("option_probabilities", None)
            assert ours == theirs, name
            if expected is not None:
                assert probabilities is not None and probabilities.keys() == expected.keys(), name
                assert all(abs(probabilities[k] - expected[k]) < 1e-5 for k in expected), name
