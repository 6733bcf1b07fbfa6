"""Run every cell of an experiment grid through ``evaluate``, sharing one model-output cache."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa4re.backends.cached import CachingBackend
from qa4re.backends.settings import BackendSettings
from qa4re.errors import ConfigError
from qa4re.evaluation.calibration import choose_na_threshold
from qa4re.evaluation.results import EvaluationResult
from qa4re.evaluation.run import EvaluationSettings, Progress, evaluate
from qa4re.experiments.config import DEFAULT_TEMPLATES, Cell, ExperimentConfig
from qa4re.prompts.decode import letter_relation_probabilities

HEADLINE = ("micro_precision", "micro_recall", "micro_f1", "accuracy", "semeval_official_macro_f1", "n_examples", "n_errors")


@dataclass
class CellResult:
    """Headline metrics of one cell and where its predictions are."""

    cell: Cell
    directory: Path
    evaluation: EvaluationResult
    model_calls: int
    seconds: float
    na_threshold: float | None = None

    def predictions(self) -> Iterator[dict[str, Any]]:
        """The cell's prediction records, in sample order."""
        with (self.directory / "predictions.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)

    def to_json(self) -> dict[str, Any]:
        c = self.cell
        return {
            "id": c.id, "dataset": c.dataset.dataset, "model": c.model.name, "model_id": c.model.model, "variant": c.variant.name,
            "method": c.variant.method, "templates": c.templates, "shots": c.shots, "seed": c.seed,
            **{k: v for k, v in self.evaluation.metrics.to_json().items() if k in HEADLINE},
            "na_threshold": self.na_threshold, "model_calls": self.model_calls, "seconds": self.seconds, "directory": str(self.directory),
            "fingerprint": self.evaluation.run.fingerprint,
        }  # fmt: skip


def cell_directory(output: Path, cell: Cell) -> Path:
    """Where a cell writes its files (its id, made filesystem-safe)."""
    return output / "cells" / Path(*(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in cell.id.split("/")))


def check_runnable(config: ExperimentConfig) -> None:
    """Fail before any model call on settings that cannot run."""
    for dataset in config.datasets:
        if any(v.calibrate_na_threshold for v in config.variants) and dataset.dev_split is None:
            raise ConfigError(f"{config.source}: datasets: {dataset.dataset} needs dev_split for the NA-threshold variant")
        if not dataset.data.exists():
            raise ConfigError(f"{config.source}: datasets: {dataset.dataset}: no such file or folder: {dataset.data}")


def _settings(config: ExperimentConfig, cell: Cell, output: Path, model: BackendSettings, *, dev: bool, threshold: float | None) -> EvaluationSettings:
    d, v = cell.dataset, cell.variant
    prompt = v.config(shots=cell.shots, seed=cell.seed, unknown_type_pair=d.unknown_type_pair, na_threshold=threshold)
    return EvaluationSettings(
        dataset=d.dataset, data=d.data, output=output, split=(d.dev_split or d.split) if dev else d.split, limit=d.dev_limit if dev else d.limit,
        sample_seed=config.sample_seed, schema=d.schema, templates=None if cell.templates == DEFAULT_TEMPLATES else cell.templates, config=prompt,
        model=model,
    )  # fmt: skip


def _dev_threshold(directory: Path, na_relation: str) -> float:
    examples = []
    with (directory / "predictions.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("gold") is not None and record.get("option_probabilities"):
                examples.append((record["gold"], letter_relation_probabilities(record["letter_to_relation"], record["option_probabilities"])))
    if not examples:
        raise ConfigError(f"{directory}: no scored dev predictions to choose an NA threshold from")
    return choose_na_threshold(examples, na_relation)


def model_settings(config: ExperimentConfig, cell: Cell) -> BackendSettings:
    """The backend settings of a cell's model (all cells share the config's cache)."""
    return cell.model.settings(config.cache)


def run_cell(config: ExperimentConfig, cell: Cell, backend: CachingBackend, output: Path, progress: Callable[[int], Progress] | None = None) -> CellResult:
    """Evaluate one cell (first on dev when its variant calibrates an NA threshold)."""
    directory = cell_directory(output, cell)
    model = model_settings(config, cell)
    calls, seconds = 0, 0.0
    threshold = None
    if cell.variant.calibrate_na_threshold:
        dev = evaluate(_settings(config, cell, directory / "dev", model, dev=True, threshold=None), backend, progress)
        calls, seconds = dev.run.model_calls or 0, dev.run.seconds
        threshold = _dev_threshold(directory / "dev", dev.metrics.na_relation)
    result = evaluate(_settings(config, cell, directory, model, dev=False, threshold=threshold), backend, progress)
    run = result.run
    return CellResult(cell, directory, result, calls + (run.model_calls or 0), round(seconds + run.seconds, 2), threshold)


def run_experiment(
    config: ExperimentConfig,
    output: Path,
    progress: Callable[[Cell], Callable[[int], Progress]] | None = None,
    on_cell: Callable[[CellResult], None] | None = None,
) -> list[CellResult]:
    """Run every cell; one backend per model, all behind the same output cache.

    ``progress(cell)`` gives the progress factory of one cell's evaluation(s).
    """
    check_runnable(config)
    results: list[CellResult] = []
    backends: dict[str, CachingBackend] = {}
    try:
        for cell in config.cells():
            if cell.model.name not in backends:
                for backend in backends.values():
                    backend.close()
                backends = {cell.model.name: model_settings(config, cell).build()}
            result = run_cell(config, cell, backends[cell.model.name], output, progress(cell) if progress else None)
            backends[cell.model.name].release()  # memory stays flat over the cells: nothing one cell kept is held for the next
            results.append(result)
            if on_cell:
                on_cell(result)
    finally:
        for backend in backends.values():
            backend.close()
    return results
