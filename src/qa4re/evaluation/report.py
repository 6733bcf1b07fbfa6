"""Turn predictions into metrics.json and report.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa4re.evaluation.metrics import PairCounts, accuracy, confusion_matrix, micro_prf, per_relation, semeval_official
from qa4re.schemas.model import RelationSchema


def compute_metrics(pairs: PairCounts, schema: RelationSchema, *, n_examples: int, n_errors: int, semeval: bool) -> dict[str, Any]:
    """All metrics of one run. ``pairs`` counts (gold, prediction) over the examples whose gold is known."""
    micro = micro_prf(pairs, schema.na_relation)
    metrics: dict[str, Any] = {
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1"],
        "accuracy": accuracy(pairs),
        "n_examples": n_examples,
        "n_errors": n_errors,
        "n_scored": sum(n for (_, p), n in pairs.items() if p is not None),
        "na_relation": schema.na_relation,
    }
    if semeval:
        official = semeval_official(pairs)
        metrics["semeval_official_macro_f1"] = official["macro_f1"]
        metrics["semeval_official_macro_precision"] = official["macro_precision"]
        metrics["semeval_official_macro_recall"] = official["macro_recall"]
        metrics["semeval_per_type"] = official["per_type"]
    metrics["per_relation"] = per_relation(pairs)
    metrics["confusion_matrix"] = confusion_matrix(pairs)
    return metrics


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers as (name, value) rows, percentages with two decimals."""
    rows = [
        ("micro P (no NA)", f"{100 * metrics['micro_precision']:.2f}"),
        ("micro R (no NA)", f"{100 * metrics['micro_recall']:.2f}"),
        ("micro F1 (no NA)", f"{100 * metrics['micro_f1']:.2f}"),
        ("accuracy", f"{100 * metrics['accuracy']:.2f}"),
    ]
    if "semeval_official_macro_f1" in metrics:
        rows.append(("SemEval official macro-F1", f"{100 * metrics['semeval_official_macro_f1']:.2f}"))
    rows += [("examples", str(metrics["n_examples"])), ("errors", str(metrics["n_errors"]))]
    diagnostics = metrics.get("diagnostics") or {}
    if diagnostics.get("top_answer_share") is not None:
        rows.append(("top answer", f"'{diagnostics['top_answer']}' {100 * diagnostics['top_answer_share']:.1f}%"))
    if diagnostics.get("mean_letter_mass") is not None:
        rows.append(("mean letter mass", f"{100 * diagnostics['mean_letter_mass']:.1f}%"))
    if "gold_rank" in diagnostics:
        g = diagnostics["gold_rank"]
        rows.append(("gold rank (chance)", f"{g['mean']:.2f} ({g['chance']:.2f})"))
        rows.append(("gold rank advantage [95% CI]", f"{g['advantage']:.2f} [{g['advantage_ci95'][0]:.2f}, {g['advantage_ci95'][1]:.2f}]"))
    return rows


def render_report(metrics: dict[str, Any], run: dict[str, Any]) -> str:
    """report.md: headline table, run settings, per-relation table, confusion matrix."""
    lines = ["# qa4re evaluation", ""]
    lines += [f"> **Warning:** {w}" + "\n" for w in (metrics.get("diagnostics") or {}).get("warnings", [])]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in headline_rows(metrics)]
    lines += ["", "## Run", "", "```", json.dumps(run, indent=2), "```", "", "## Per relation", ""]
    lines += ["| relation | P | R | F1 | gold | predicted |", "|---|---|---|---|---|---|"]
    for label, s in metrics["per_relation"].items():
        lines.append(f"| {label} | {100 * s['precision']:.1f} | {100 * s['recall']:.1f} | {100 * s['f1']:.1f} | {s['gold']} | {s['predicted']} |")
    matrix = metrics["confusion_matrix"]
    columns = sorted({c for row in matrix.values() for c in row})
    lines += ["", "## Confusion matrix (rows: gold, columns: prediction)", ""]
    lines += ["| gold \\ predicted | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for gold in sorted(matrix):
        lines.append(f"| {gold} | " + " | ".join(str(matrix[gold].get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(directory: Path, metrics: dict[str, Any], run: dict[str, Any]) -> None:
    """Write metrics.json and report.md into ``directory``."""
    (directory / "metrics.json").write_text(json.dumps({**metrics, "run": run}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (directory / "report.md").write_text(render_report(metrics, run), encoding="utf-8")
