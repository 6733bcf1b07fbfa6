"""The placement (device, dtype, device map) reaches the loaded model from every entry point: the backends, evaluate,
predict, extract, serve, experiment grids and the spaCy factory (the Ray engine: test_ray.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers import SEMEVAL, qa4re, read_jsonl, serving
from qa4re.errors import ConfigError

BF16_TAG = ":bfloat16@cpu"
NO_CUDA = not torch.cuda.is_available()


def test_the_embedded_model_loads_in_bfloat16_on_the_cpu_and_says_so() -> None:
    from qa4re.backends.base import ScoreRequest
    from qa4re.backends.transformers import TransformersBackend

    backend = TransformersBackend("default", device="cpu", dtype="bfloat16")
    assert backend.model.dtype == torch.bfloat16 and backend.model.device.type == "cpu"
    assert backend.fingerprint.endswith(BF16_TAG) and backend.max_batch_size == 8
    request = ScoreRequest("Which letter comes first?\nA. B\nB. A\nOption:", ("A", "B"))
    multi = ScoreRequest("Which relation?\nOption:", ("per:title", "no_relation"))  # multi-token answers: the answer-tree path in bfloat16
    for result in backend.score_options([request, multi]):
        assert all(v < 0 for v in result.logprobs.values())


def test_a_device_map_goes_to_from_pretrained_and_the_model_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForCausalLM

    from qa4re.backends.base import ScoreRequest
    from qa4re.backends.transformers import TransformersBackend

    seen: list[dict[str, object]] = []
    real = AutoModelForCausalLM.from_pretrained

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    backend = TransformersBackend("default", device="cpu", device_map="auto")
    assert seen[-1]["device_map"] == "auto" and seen[-1]["dtype"] == torch.float32 and backend.fingerprint.endswith("+map=auto")
    assert backend.score_options([ScoreRequest("Pick one.\nOption:", ("A", "B"))])[0].error is None


def test_the_nli_backend_takes_the_placement(tiny_nli: Path) -> None:
    from qa4re.backends.nli import NLIBackend

    backend = NLIBackend(str(tiny_nli), device="cpu", dtype="bfloat16")
    assert backend.model.dtype == torch.bfloat16 and backend.fingerprint.endswith(BF16_TAG)
    assert len(backend.entailment_logprobs([("a b", "a")])) == 1


# ---- every entry point carries the placement to the model ------------------------------------


def test_evaluate_runs_in_bfloat16_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "3", "--output", out, "--cache", tmp_path / "c.sqlite", "--device", "cpu",
          "--dtype", "bfloat16")  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    model = metrics["run"]["model"]
    assert model["device"] == "cpu" and model["dtype"] == "bfloat16" and model["fingerprint"].endswith(BF16_TAG)
    assert len(read_jsonl(out / "predictions.jsonl")) == 3


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_evaluate_on_cuda_without_cuda_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "2", "--output", tmp_path / "o", "--device", "cuda", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --device cuda: torch ")


def test_float16_for_a_t5_model_is_one_line_and_exit_2(tmp_path: Path, tiny_t5_folder: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--limit", "2", "--output", tmp_path / "o", "--model", tiny_t5_folder,
                   "--dtype", "float16", check=False)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "T5-family models (t5) overflow in float16" in result.stderr.strip().splitlines()[-1]


def test_a_misspelt_dtype_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", SEMEVAL, "--output", tmp_path / "o", "--dtype", "half", check=False)
    assert result.returncode == 2 and result.stderr.strip() == "error: dtype 'half': expected one of auto, float32, bfloat16, float16"


PAIR = {
    "id": "a", "text": "Paul Weber was born in Hamburg.", "subj": {"start": 0, "end": 10, "type": "PERSON"}, "obj": {"start": 23, "end": 30, "type": "CITY"},
}  # fmt: skip


def test_predict_and_extract_load_the_model_as_asked(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(PAIR) + "\n")
    placement = ("--device", "cpu", "--dtype", "bfloat16", "--cache", tmp_path / "c.sqlite")
    predicted = qa4re("predict", "--schema", "tacred", "--input", data, "--output", tmp_path / "p.jsonl", *placement)
    assert f"{BF16_TAG})" in predicted.stderr.replace("\n", "")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d", "text": PAIR["text"], "entities": [PAIR["subj"], PAIR["obj"]]}) + "\n")
    extracted = qa4re("extract", "--schema", "tacred", "--input", docs, "--output", tmp_path / "t.jsonl", "--include-na", *placement)
    assert BF16_TAG in extracted.stderr.replace("\n", "")


def test_an_experiment_grid_places_each_model_as_its_entry_says(tmp_path: Path) -> None:
    from qa4re.experiments.config import load_experiment

    config = tmp_path / "grid.yaml"
    config.write_text(f"""
name: placed
variants: [qa4re]
dtype: bfloat16
models:
  - {{name: cpu-bf16, model: default, device: cpu}}
  - {{name: cpu-fp32, model: default, device: cpu, dtype: float32, batch_size: 4}}
datasets:
  - {{dataset: semeval, data: {SEMEVAL}, limit: 2}}
""")
    models = load_experiment(config).models
    assert [(m.backend.device, m.backend.dtype, m.backend.batch_size) for m in models] == [("cpu", "bfloat16", None), ("cpu", "float32", 4)]
    qa4re("experiment", config, "--output", tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    fingerprints = {c["model"]: c["fingerprint"] for c in results["cells"]}
    assert fingerprints["cpu-bf16"].endswith(BF16_TAG) and BF16_TAG not in fingerprints["cpu-fp32"]


def test_a_misspelt_device_in_a_grid_names_the_file_and_model(tmp_path: Path) -> None:
    from qa4re.experiments.config import load_experiment

    config = tmp_path / "grid.yaml"
    config.write_text(f"models: [{{model: default, device: gpu}}]\ndatasets: [{{dataset: semeval, data: {SEMEVAL}}}]\n")
    with pytest.raises(ConfigError, match=r"grid.yaml: models\[0\]: device 'gpu'"):
        load_experiment(config)


def test_the_spacy_factory_takes_the_placement(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    component = nlp.add_pipe("qa4re", config={"schema": "tacred", "device": "cpu", "dtype": "bfloat16", "cache": str(tmp_path / "c.sqlite")})
    backend = component.extractor.backend  # type: ignore[attr-defined]
    assert backend.fingerprint.endswith(BF16_TAG) and backend.backend.model.dtype == torch.bfloat16


def test_serve_reports_the_placed_model(tmp_path: Path) -> None:
    with serving("--schema", "tacred", "--cache", tmp_path / "c.sqlite", "--device", "cpu", "--dtype", "bfloat16") as (_, health):
        assert health["model"].endswith(BF16_TAG)
