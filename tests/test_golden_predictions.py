"""Every method, debiaser, selector and ablation on the embedded model keeps its predictions (a refactoring changes none).

The golden file holds, per setting, each example's prediction, answer, prompt hash and option
probabilities, recorded on the embedded SmolLM2 (and the tiny random NLI model for the NLI
baseline). Regenerate it only when a change is meant to change outputs, and say so:

    QA4RE_RECORD_GOLDEN=1 .venv/bin/pytest -q -n 0 tests/test_golden_predictions.py

(one process: each setting's test rewrites its entry of the one file). Each setting is a test of its
own, so a parallel run spreads them over the workers.
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

pytestmark = pytest.mark.model  # the model is asked for by name (getfixturevalue), so conftest cannot see it

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


def predictions(name: str, model: Backend) -> list[dict[str, Any]]:
    """The records of setting ``name`` on the first examples of the SemEval fixture."""
    schema = load_schema("semeval")
    items = [i for i in read_dataset("semeval", FIXTURES / "semeval_small" / "TEST_FILE_FULL.TXT", OnError.SKIP) if isinstance(i, RelationInstance)]
    demos = [i for i in read_dataset("semeval", FIXTURES / "semeval_small" / "TRAIN_FILE.TXT", OnError.SKIP) if isinstance(i, RelationInstance)]
    config = SETTINGS[name]
    return [_record(o) for o in Extractor(schema, model, config, demos if config.shots else ()).predict(items[:EXAMPLES])]


@pytest.fixture(scope="module")
def cached_embedded(embedded_backend: Backend, shared_tmp: Path) -> Backend:
    """The embedded model behind one output cache that every setting (and every worker of a parallel run) shares:
    a prompt that two settings both ask (the plain QA4RE prompts of na-threshold, content-free, permute and pride)
    is scored once, as ``qa4re evaluate`` would score it."""
    from qa4re.backends.cached import CachingBackend

    return CachingBackend(embedded_backend, shared_tmp / "golden-outputs.sqlite")


@pytest.fixture(scope="module")
def nli_backend(tiny_nli: Path) -> Backend:
    from qa4re.backends.nli import NLIBackend

    return NLIBackend(str(tiny_nli), batch_size=4)


def test_the_golden_file_holds_every_setting() -> None:
    assert sorted(json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))) == sorted(SETTINGS)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_keeps_its_predictions(name: str, request: pytest.FixtureRequest) -> None:
    got = predictions(name, request.getfixturevalue("nli_backend" if SETTINGS[name].method == "nli" else "cached_embedded"))
    golden = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    if os.environ.get("QA4RE_RECORD_GOLDEN"):
        GOLDEN_FILE.write_text(json.dumps(golden | {name: got}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"recorded {name} in {GOLDEN_FILE}")
    assert len(got) == len(golden[name]) == EXAMPLES, name
    for ours, theirs in zip(got, golden[name], strict=True):
        probabilities, expected = ours.pop("option_probabilities", None), theirs.pop("option_probabilities", None)
        assert ours == theirs, name
        if expected is not None:
            assert probabilities is not None and probabilities.keys() == expected.keys(), name
            assert all(abs(probabilities[k] - expected[k]) < 1e-5 for k in expected), name
