"""Engines without Ray: the local engine runs the same pipeline as the commands; the single-process path never imports ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES
from qa4re.backends.fake import FakeBackend
from qa4re.backends.settings import BackendSettings
from qa4re.datasets import OnError, read_dataset
from qa4re.engines import DocumentSpec, EngineKind, EngineSettings, ExtractorSpec, LocalEngine
from qa4re.errors import ConfigError
from qa4re.extract.pipeline import Extractor, ExtractorConfig
from qa4re.schemas.loader import load_schema


def test_the_local_engine_gives_the_extractor_outputs_and_counts_this_run_only(tmp_path: Path) -> None:
    items = list(read_dataset("tacred", FIXTURES / "tacred_small.json", OnError.SKIP))
    schema = load_schema("tacred")
    spec = ExtractorSpec(schema, ExtractorConfig(), BackendSettings("fake:x", cache=tmp_path / "c.sqlite"))
    engine = LocalEngine()
    first = list(engine.map(items, spec))
    assert first == list(Extractor(schema, FakeBackend()).predict(items))
    calls = engine.calls
    assert calls and calls == engine.requests and engine.fingerprint == "fake"
    again = LocalEngine(engine.backend)  # the same backend: the counters are the new run's
    assert list(again.map(items, spec)) == first and again.calls == 0 and again.requests == calls


def test_a_spec_key_names_what_decides_the_outputs() -> None:
    spec = ExtractorSpec(load_schema("tacred"), ExtractorConfig(), BackendSettings())
    assert spec.key == ExtractorSpec(load_schema("tacred"), ExtractorConfig(), BackendSettings(cache=Path("elsewhere"))).key
    assert spec.key != ExtractorSpec(load_schema("tacred"), ExtractorConfig(shots=1), BackendSettings()).key
    assert spec.key != ExtractorSpec(load_schema("tacred"), ExtractorConfig(), BackendSettings(dtype="bfloat16")).key
    assert spec.key != ExtractorSpec(load_schema("tacred"), ExtractorConfig(), BackendSettings(device="cpu")).key
    assert spec.unit == 8 * 4  # the CPU's default batch (no CUDA here)
    assert ExtractorSpec(load_schema("tacred"), ExtractorConfig(), BackendSettings(batch_size=3)).unit == 12


def test_a_worker_reserves_a_gpu_when_the_model_is_asked_to_run_on_cuda() -> None:
    schema = load_schema("tacred")
    assert ExtractorSpec(schema, ExtractorConfig(), BackendSettings(device="cuda")).gpus == 1.0
    assert ExtractorSpec(schema, ExtractorConfig(), BackendSettings(device="cuda:1")).gpus == 1.0
    assert ExtractorSpec(schema, ExtractorConfig(), BackendSettings()).gpus == 0.0
    assert ExtractorSpec(schema, ExtractorConfig(), BackendSettings("openai:m")).gpus == 0.0  # a served model runs elsewhere
    with pytest.raises(ConfigError, match="--device: the openai backend does not take this option"):
        BackendSettings("openai:m", device="cuda")


def test_ray_options_without_the_ray_engine_are_refused() -> None:
    with pytest.raises(ConfigError, match="need --engine ray"):
        EngineSettings(EngineKind.LOCAL, workers=4).build(Path("work"))
    with pytest.raises(ConfigError, match="--ray-gpus need --engine ray"):
        EngineSettings(EngineKind.LOCAL, gpus=1).build(Path("work"))


def test_the_single_process_path_never_imports_ray(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from qa4re.cli import app\n"
        "from qa4re.evaluation.run import EvaluationSettings, evaluate\n"
        "from qa4re.backends.settings import BackendSettings\n"
        f"evaluate(EvaluationSettings('tacred', Path({str(FIXTURES / 'tacred_small.json')!r}), Path({str(tmp_path / 'run')!r}),"
        f" model=BackendSettings('fake:x', cache=Path({str(tmp_path / 'c.sqlite')!r}))))\n"
        "loaded = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "predictions.jsonl").exists()


def test_a_spec_says_whether_its_stream_can_be_split_across_workers() -> None:
    schema = load_schema("tacred")
    pairs = ExtractorSpec(schema, ExtractorConfig(debias="pride"), BackendSettings())
    assert pairs.unsplittable == "--debias pride learns from the first inputs of one stream"
    assert DocumentSpec(pairs).unsplittable == pairs.unsplittable
    assert ExtractorSpec(schema, ExtractorConfig(debias="permute"), BackendSettings()).unsplittable is None
