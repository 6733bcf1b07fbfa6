"""Ray Data engine on a local Ray instance with the embedded model (opt-in: ``-m ray``, run by .ci/run).

The same 60 SemEval test examples through the single-process pipeline and through two actors:
byte-identical predictions.jsonl; an actor killed mid-run loses and duplicates nothing; a rerun
makes no model call.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, SHARED
from qa4re.backends.settings import BackendSettings
from qa4re.datasets import OnError, read_dataset
from qa4re.engines import DocumentSpec, ExtractorSpec, LocalEngine
from qa4re.evaluation.run import EvaluationSettings, evaluate
from qa4re.extract.documents import DocumentSettings
from qa4re.extract.pairs import read_documents
from qa4re.extract.pipeline import ExtractorConfig
from qa4re.schemas.loader import load_schema

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.model]

SEMEVAL = SHARED / "data" / "semeval2010_task8"
MODEL = BackendSettings(model="default", batch_size=2)  # scoring unit 8: blocks of 8 give 8 tasks for 60 examples


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _settings(output: Path, cache: Path) -> EvaluationSettings:
    return EvaluationSettings("semeval", SEMEVAL, output, limit=60, sample_seed=0, model=replace(MODEL, cache=cache))


def _engine(work: Path, workers: int = 2):  # type: ignore[no-untyped-def]
    import torch

    from qa4re.engines.ray import RayEngine, RayOptions

    # The single process's torch threads in each actor: the same summation order, so the same bits.
    return RayEngine(RayOptions(workers=workers, block_size=8, cpus_per_worker=1, threads=torch.get_num_threads()), work)


@pytest.fixture(scope="module")
def single_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """predictions.jsonl of the single-process run."""
    folder = tmp_path_factory.mktemp("single")
    evaluate(_settings(folder / "run", folder / "cache.sqlite"))
    return folder / "run" / "predictions.jsonl"


def test_two_actors_write_the_predictions_of_one_process(local_ray: None, single_process: Path, tmp_path: Path) -> None:
    engine = _engine(tmp_path / "work")
    result = evaluate(_settings(tmp_path / "run", tmp_path / "cache.sqlite"), engine=engine)
    assert (tmp_path / "run" / "predictions.jsonl").read_bytes() == single_process.read_bytes()
    assert engine.blocks == 8 and result.run.model_calls == 60 and result.run.prompts_per_example == 1.0
    assert len(engine.workers) == 2  # two actors did the work


def test_a_killed_actor_loses_and_duplicates_nothing_and_the_rerun_calls_no_model(local_ray: None, single_process: Path, tmp_path: Path) -> None:
    work, outcome = tmp_path / "work", {}
    engine = _engine(work)

    def run() -> None:
        outcome["result"] = evaluate(_settings(tmp_path / "run", tmp_path / "cache.sqlite"), engine=engine)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 300
    while not engine.workers and time.monotonic() < deadline:  # the first block came back: the actors are mid-run
        time.sleep(0.2)
    victim = min(engine.workers)
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=600)
    assert not thread.is_alive() and "result" in outcome
    written = (tmp_path / "run" / "predictions.jsonl").read_bytes()
    ours, theirs = (_records(text) for text in (written, single_process.read_bytes()))
    assert [r["id"] for r in ours] == [r["id"] for r in theirs]  # nothing lost, nothing twice, same order
    assert [r["prediction"] for r in ours] == [r["prediction"] for r in theirs]
    # The block the killed actor was scoring is redone by a fresh actor, whose prefix store is empty: its shared
    # prefixes are split where that actor's history allows, so probabilities may differ in the last digits.
    gaps = [abs(a["option_probabilities"][k] - b["option_probabilities"][k]) for a, b in zip(ours, theirs, strict=True) for k in b["option_probabilities"]]
    assert max(gaps) < 1e-5
    assert len(engine.workers) >= 2 and victim in engine.workers  # the killed actor had done blocks; the others were redone
    again = _engine(work)
    rerun = evaluate(_settings(tmp_path / "again", tmp_path / "cache.sqlite"), engine=again)
    assert rerun.run.model_calls == 0 and again.reused_blocks == again.blocks == 8
    assert (tmp_path / "again" / "predictions.jsonl").read_bytes() == written


def _records(data: bytes) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in data.decode().splitlines()]


class _Runs:
    """Unpickled, it would run a command: what a stranger with write access to a shared work folder could plant."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_the_work_folder_is_refused_and_recomputed_never_run(local_ray: None, single_process: Path, tmp_path: Path) -> None:
    import pickle

    work = tmp_path / "work"
    evaluate(_settings(tmp_path / "run", tmp_path / "cache.sqlite"), engine=_engine(work))
    done = sorted(work.glob("*/done/*.jsonl"))
    assert len(done) == 8 and all(p.read_bytes().startswith(b'{"meta"') for p in done)  # data: a JSON header, then JSON lines
    marker = tmp_path / "executed"
    done[3].write_bytes(pickle.dumps(_Runs(marker)))  # a finished block replaced by code
    staged = sorted(work.glob("*/blocks/*.jsonl"))
    staged[5].write_bytes(staged[5].read_bytes()[:-40])  # a staged input block truncated
    again = _engine(work)
    evaluate(_settings(tmp_path / "again", tmp_path / "cache.sqlite"), engine=again)
    assert not marker.exists()
    assert (tmp_path / "again" / "predictions.jsonl").read_bytes() == single_process.read_bytes()
    assert len(again.refused) == 1 and again.refused[0].startswith(f"{done[3]}: not a qa4re block") and again.reused_blocks == 7


def test_documents_and_a_ray_dataset_give_the_single_process_outputs(local_ray: None, tmp_path: Path) -> None:
    """``extract`` documents through the engine, and instances through map_dataset: the outputs of one process."""
    import torch

    from qa4re.engines.ray import RayOptions, map_dataset

    model = replace(MODEL, cache=tmp_path / "cache.sqlite")
    documents = DocumentSpec(ExtractorSpec(load_schema("tacred"), ExtractorConfig(), model), DocumentSettings(include_na=True))
    items = list(read_documents(FIXTURES / "news_docs.jsonl"))
    expected = [r.triples if hasattr(r, "triples") else r for r in LocalEngine().map(items, documents)]
    found = [r.triples if hasattr(r, "triples") else r for r in _engine(tmp_path / "work").map(items, documents)]
    assert found == expected and any(expected)
    instances = [i for i in read_dataset("semeval", SEMEVAL / "TEST_FILE_FULL.TXT", OnError.STOP)][:8]
    pairs = ExtractorSpec(load_schema("semeval"), ExtractorConfig(), model)
    options = RayOptions(workers=1, block_size=8, threads=torch.get_num_threads())
    rows = map_dataset(ray.data.from_items([{"item": i} for i in instances]), pairs, options).take_all()
    assert [r["output"] for r in rows] == list(LocalEngine().map(instances, pairs))


def test_pride_is_refused_before_any_work(tmp_path: Path) -> None:
    from qa4re.errors import ConfigError

    spec = ExtractorSpec(load_schema("semeval"), ExtractorConfig(debias="pride"), MODEL)
    with pytest.raises(ConfigError, match="cannot run with --engine ray"):
        _engine(tmp_path / "work").map([], spec)
    assert not (tmp_path / "work").exists()


def test_a_work_folder_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    from qa4re.errors import ConfigError

    (tmp_path / "file").write_text("x")
    spec = ExtractorSpec(load_schema("semeval"), ExtractorConfig(), MODEL)
    with pytest.raises(ConfigError, match="cannot hold the Ray work folder"):
        _engine(tmp_path / "file").map([], spec)


def test_the_placement_reaches_the_model_in_every_actor(local_ray: None, tmp_path: Path) -> None:
    from qa4re.engines.ray import RayEngine, RayOptions, _gpus

    items = list(read_dataset("semeval", SEMEVAL / "TEST_FILE_FULL.TXT", OnError.SKIP))[:4]
    placed = BackendSettings(model="default", batch_size=2, cache=tmp_path / "c.sqlite", device="cpu", dtype="bfloat16")
    spec = ExtractorSpec(load_schema("semeval"), ExtractorConfig(), placed)
    engine = RayEngine(RayOptions(workers=1, block_size=8, cpus_per_worker=1), tmp_path / "work")
    outputs = list(engine.map(items, spec))
    assert len(outputs) == 4 and engine.fingerprint.endswith(":bfloat16@cpu")
    cuda = ExtractorSpec(load_schema("semeval"), ExtractorConfig(), replace(placed, device="cuda"))
    assert _gpus(RayOptions(), cuda) == 1.0 and _gpus(RayOptions(gpus_per_worker=0.5), cuda) == 0.5 and _gpus(RayOptions(), spec) == 0.0


def test_the_adapter_reaches_the_model_in_every_actor(local_ray: None, tmp_path: Path, random_adapter: Path) -> None:
    from qa4re.engines.ray import RayEngine, RayOptions

    items = list(read_dataset("semeval", SEMEVAL / "TEST_FILE_FULL.TXT", OnError.SKIP))[:4]
    tuned = BackendSettings(model="default", batch_size=2, cache=tmp_path / "c.sqlite", adapter=str(random_adapter))
    spec = ExtractorSpec(load_schema("semeval"), ExtractorConfig(), tuned)
    engine = RayEngine(RayOptions(workers=1, block_size=8, cpus_per_worker=1), tmp_path / "work")
    outputs = list(engine.map(items, spec))
    assert len(outputs) == 4 and "+adapter:" in engine.fingerprint
