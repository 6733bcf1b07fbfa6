"""Experiment grids: config validation, calibration, and one real grid with the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES
from helpers import independent_scores, qa4re, read_jsonl
from qa4re.errors import ConfigError
from qa4re.evaluation.calibration import choose_na_threshold, expected_calibration_error, reliability_bins
from qa4re.experiments.config import load_experiment

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("config", sorted((REPO / "experiments").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An adapter a grid names is the output of a tuning run (a folder relative to where the grid runs): stand-ins here.
    for model in yaml.safe_load(config.read_text(encoding="utf-8")).get("models") or []:
        if isinstance(model, dict) and model.get("adapter"):
            (tmp_path / model["adapter"]).mkdir(parents=True, exist_ok=True)
            (tmp_path / model["adapter"] / "adapter_config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    experiment = load_experiment(config)
    assert list(experiment.cells())


def test_cells_cover_the_grid_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "variants: [qa4re, vanilla]\nshots: [0, 5]\nseeds: [1, 2]\nmodels: [default, {name: big, model: google/flan-t5-xxl, batch_size: 2}]\n"
        "datasets:\n  - {dataset: tacred, data: data/tacred, template_sets: [temp1, temp2, temp3, temp4]}\n",
    )
    experiment = load_experiment(path)
    cells = list(experiment.cells())
    assert len(cells) == 2 * 2 * 2 * 2 * 4
    assert cells[0].dataset.data == tmp_path / "data" / "tacred"
    assert cells[0].id == "tacred/default/qa4re/temp1/0-shot/seed-1"
    assert {c.model.backend.batch_size for c in cells if c.model.name == "big"} == {2}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("datasets: [{dataset: semeval, data: x}]\nshot: [0]\n", "grid.yaml: shot: unknown key"),
        ("datasets: [{dataset: semeval, data: x}]\nvariants: [qa4r]\n", "grid.yaml: variants[0]: Unknown variant 'qa4r'. Did you mean: qa4re"),
        ("datasets: [{dataset: semeval, data: x}]\nmethods: [qa4re]\n", "grid.yaml: methods: renamed: list the variants under variants:"),
        (
            "datasets: [{dataset: semeval, data: x}]\nvariants: [{name: t, permutaions: 3}]\n",
            "variants[0].permutaions: Unknown key 'permutaions'. Did you mean: permutations",
        ),
        ("datasets: [{dataset: semeval, data: x}]\nvariants: [{name: t, shots: 3}]\n", "variants[0].shots: Unknown key 'shots'"),
        (
            "datasets: [{dataset: semeval, data: x}]\nmodels: [{model: default, devise: cpu}]\n",
            "models[0].devise: Unknown key 'devise'. Did you mean: device",
        ),
        ("datasets: [{dataset: semeval, data: x, limit: many}]\n", "grid.yaml: datasets[0].limit: expected int"),
        ("datasets: [{dataset: semevl, data: x}]\n", "grid.yaml: datasets[0].dataset: Unknown dataset 'semevl'"),
        ("datasets: [{dataset: semeval}]\n", "grid.yaml: datasets[0].data: required"),
        ("datasets: [{dataset: semeval, data: x}]\nshots: [0, -1]\n", "grid.yaml: shots: expected a non-empty list of integers"),
        ("datasets: [{dataset: semeval, data: x}]\nvariants: [{name: t, na_threshold: test}]\n", "variants[0].na_threshold: only 'dev'"),
        ("datasets: []\n", "grid.yaml: datasets: required"),
        ("datasets: [{dataset: semeval, data: x}]\nvariants: [{name: t, debias: pryde}]\n", "variants[0].debias: Unknown debias 'pryde'. Did you mean"),
        ("datasets: [{dataset: semeval, data: x, unknown_type_pair: nah}]\n", "datasets[0].unknown_type_pair: Unknown unknown_type_pair policy 'nah'"),
        ("datasets: [{dataset: semeval, data: x}]\nvariants: [{name: t, max_options: 1}]\n", "variants[0].max_options: must be at least 2, got 1"),
        (
            "datasets: [{dataset: semeval, data: x}]\nvariants: [{name: t, method: nly}]\n",
            "variants[0].method: Unknown method 'nly'. Did you mean: nli?",
        ),
        ("[1, 2]\n", "expected a mapping at the top level"),
    ],
)
def test_bad_configs_name_the_file_and_key(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        load_experiment(write_config(tmp_path, text))
    assert where in str(caught.value)


def test_threshold_is_chosen_for_the_best_dev_f1() -> None:
    examples = [
        ("founder", {"founder": 0.6, "NA": 0.4}),
        ("NA", {"founder": 0.3, "NA": 0.7}),
        ("NA", {"member": 0.45, "NA": 0.55}),
        ("member", {"member": 0.5, "NA": 0.5}),
    ]
    # 0.45 would predict a wrong "member" for the third example; 0.5 keeps both right answers.
    assert choose_na_threshold(examples, "NA") == 0.5
    assert choose_na_threshold([("NA", {"a": 0.9, "NA": 0.1})], "NA") == 0.0  # F1 is 0 everywhere: the lowest threshold


def test_reliability_bins_and_calibration_error() -> None:
    bins = reliability_bins([0.05, 0.15, 0.95, 1.0], [False, True, True, True], bins=10)
    assert [b.count for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[9].mean_confidence == pytest.approx(0.975) and bins[9].accuracy == 1.0
    assert expected_calibration_error(bins) == pytest.approx((0.05 + 0.85 + 2 * 0.025) / 4)


GRID = """
name: fixture-grid
seeds: [0, 1]
shots: [0, 1]
variants: [qa4re, vanilla, qa4re-shuffled, qa4re-na-threshold]
cache: cache.sqlite
datasets:
  - dataset: semeval
    data: {data}
    limit: 2
    dev_split: train
    dev_limit: 2
"""


@pytest.mark.model
def test_grid_runs_reports_and_reruns_without_model_calls(tmp_path: Path) -> None:
    config = write_config(tmp_path, GRID.format(data=FIXTURES / "semeval_small"))
    first = qa4re("experiment", config, "--output", tmp_path / "out", "--bootstrap-samples", "100")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["cells"]) == 4 * 2 * 2 and results["model_calls"] > 0, first.stderr
    for cell in results["cells"]:
        records = read_jsonl(Path(cell["directory"]) / "predictions.jsonl")
        assert len(records) == 2
        assert cell["micro_f1"] == pytest.approx(independent_scores(records, "Other")["micro_f1"])
    by_id = {c["id"]: c for c in results["cells"]}
    plain = read_jsonl(Path(by_id["semeval/default/qa4re/default/0-shot/seed-0"]["directory"]) / "predictions.jsonl")
    shuffled = read_jsonl(Path(by_id["semeval/default/qa4re-shuffled/default/0-shot/seed-0"]["directory"]) / "predictions.jsonl")
    assert [sorted(r["letter_to_relation"].values()) for r in plain] == [sorted(r["letter_to_relation"].values()) for r in shuffled]
    assert [r["letter_to_relation"] for r in plain] != [r["letter_to_relation"] for r in shuffled]
    assert all(0.0 <= c["na_threshold"] <= 1.0 for c in results["cells"] if c["variant"] == "qa4re-na-threshold")
    assert {(c["other"], c["shots"]) for c in results["comparisons"]} == {(v, s) for v in ("vanilla", "qa4re-shuffled", "qa4re-na-threshold") for s in (0, 1)}
    report = (tmp_path / "out" / "results.md").read_text()
    assert "| qa4re | default | default | 0 |" in report and "paired bootstrap" in report
    assert "| 43.5 |" not in report and "beside rows of flan-t5-xxl" in report  # the paper's figures are FLAN-T5-XXL's, not this model's
    for plot in ("semeval-f1.png", "semeval-reliability.png", "semeval-confusion-best.png"):
        assert (tmp_path / "out" / "plots" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    qa4re("experiment", config, "--output", tmp_path / "again", "--bootstrap-samples", "100")
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again["model_calls"] == 0
    assert [(c["id"], c["micro_f1"]) for c in again["cells"]] == [(c["id"], c["micro_f1"]) for c in results["cells"]]


def test_template_sets_are_a_grid_axis_for_tacred_format_data(tmp_path: Path) -> None:
    # Plumbing only (scripted backend): each template set gives its own prompts and cell.
    config = write_config(
        tmp_path,
        f"variants: [qa4re]\nmodels: ['fake:x']\ncache: c.sqlite\ndatasets:\n  - {{dataset: tacred, data: {FIXTURES / 'tacred_small.json'}, "
        "template_sets: [temp1, temp4], limit: 3}\n",
    )
    qa4re("experiment", config, "--output", tmp_path / "out", "--bootstrap-samples", "20")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [c["templates"] for c in results["cells"]] == ["temp1", "temp4"]
    hashes = [[r["prompt_sha256"] for r in read_jsonl(Path(c["directory"]) / "predictions.jsonl") if "prompt_sha256" in r] for c in results["cells"]]
    assert hashes[0] and hashes[0] != hashes[1]
    assert "| qa4re | fake:x | temp1 | 0 |" in (tmp_path / "out" / "results.md").read_text()


def test_a_schema_file_in_a_grid_is_relative_to_the_grid_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "datasets:\n  - {dataset: semeval, data: x, schema: schemas/mine.yaml}\n  - {dataset: semeval, data: x, schema: semeval}\n")
    first, second = load_experiment(path).datasets
    assert first.schema == str(tmp_path / "schemas" / "mine.yaml") and second.schema == "semeval"
