from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

# A parallel run (pytest -n N, pytest-xdist) gives each worker its share of the cores: N workers each
# using every core for torch's matrix products were slower than one. Set before any test imports torch.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, str(_share))

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@dataclass(frozen=True)
class SemEvalRun:
    """One ``qa4re evaluate`` run on the SemEval fixture: its output folder, its cache, what it printed."""

    output: Path
    cache: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def embedded_backend():  # type: ignore[no-untyped-def]
    """The real embedded SmolLM2-135M-Instruct model, loaded once per test session."""
    from qa4re.backends.transformers import TransformersBackend

    return TransformersBackend("default", batch_size=4)


@pytest.fixture(scope="session")
def embedded_completion_backend():  # type: ignore[no-untyped-def]
    """The embedded model without its chat template (plain completion prompts)."""
    from qa4re.backends.transformers import TransformersBackend

    return TransformersBackend("default", chat_template=False, batch_size=4)


@pytest.fixture(scope="session")
def embedded_llama():  # type: ignore[no-untyped-def]
    """The embedded GGUF file run by llama.cpp in process (the llama extra)."""
    pytest.importorskip("llama_cpp")
    from qa4re.backends.llama import LlamaBackend

    return LlamaBackend("default")


@pytest.fixture(scope="session")
def tiny_nli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random NLI cross-encoder saved as a local folder (scripts/build_tiny_nli.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_tiny_nli", Path(__file__).resolve().parents[1] / "scripts" / "build_tiny_nli.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path_factory.mktemp("nli") / "tiny-nli")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def tiny_t5_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke mode's tiny random T5, saved as a local folder."""
    from qa4re.experiments.smoke import build_tiny_t5

    return build_tiny_t5(tmp_path_factory.mktemp("t5") / "tiny-t5")


NEWS_ENTITIES = {
    "PERSON": ["Marie Curie", "Tim Cook", "Anna Berg"],
    "GPE": ["Warsaw", "Cupertino", "California"],
    "ORG": ["University of Paris", "Apple", "Northwind"],
    "DATE": ["1998"],
}


@pytest.fixture(scope="session")
def news_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real spaCy English pipeline saved to a folder: sentencizer + entity ruler with OntoNotes labels.

    No trained English pipeline can be installed here (see README), so the entities of the news
    fixture come from rules; the pipeline is otherwise a normal one that spacy.load reads.
    """
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": label, "pattern": name} for label, names in NEWS_ENTITIES.items() for name in names])  # type: ignore[attr-defined]
    path = tmp_path_factory.mktemp("spacy") / "news_ner"
    nlp.to_disk(path)
    return path


# Modules whose tests run the qa4re command, which runs the embedded model.
COMMAND_MODULES = {"test_cli", "test_cli_errors", "test_ner", "test_experiments", "test_serve", "test_placement_entry_points", "test_paper_grid", "test_tune",
                   "test_adapters"}
MODEL_FIXTURES = {"semeval_run", "embedded_backend", "embedded_completion_backend", "embedded_llama", "service", "random_adapter"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that runs the embedded model ``model``, so ``-m "not model and not server"`` is the fast unit suite."""
    for item in items:
        module = item.module.__name__ if isinstance(item, pytest.Function) and item.module else ""
        if module in COMMAND_MODULES or MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of a parallel run sees (the parent of their own temporary roots); this run's own otherwise."""
    return tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else tmp_path_factory.getbasetemp()


@pytest.fixture(scope="session")
def semeval_run(shared_tmp: Path) -> Callable[[str], SemEvalRun]:
    """``qa4re evaluate`` of a method on the SemEval fixture, run once per test run and method.

    The tests that read one default run's files (predictions, metrics, report, page) share it, also
    across the workers of a parallel run: the first to ask runs it under a file lock in the folder the
    workers share, the others read what it left. Its outputs are read-only by agreement.
    """
    from filelock import FileLock

    from helpers import SEMEVAL, qa4re

    def run(method: str) -> SemEvalRun:
        root = shared_tmp / f"semeval-{method}"
        with FileLock(str(root) + ".lock"):
            if not (root / "stderr.txt").is_file():
                args = ("--method", method, "--output", root / "run", "--cache", root / "c.sqlite")
                result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, *args)
                (root / "stdout.txt").write_text(result.stdout, encoding="utf-8")
                (root / "stderr.txt").write_text(result.stderr, encoding="utf-8")
        return SemEvalRun(root / "run", root / "c.sqlite", (root / "stdout.txt").read_text(encoding="utf-8"), (root / "stderr.txt").read_text(encoding="utf-8"))

    return run


@pytest.fixture(scope="session")
def random_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter for the embedded model with random (not zero) B matrices: it changes the scores, as a tuned one would."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from qa4re.backends.embedded import resolve_model

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(resolve_model("default")[0])
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    folder = tmp_path_factory.mktemp("adapter") / "random-lora"
    get_peft_model(model, config).save_pretrained(str(folder))
    return folder
