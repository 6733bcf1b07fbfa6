"""Turn predictions into metrics.json and report.md."""

from __future__ import annotations

import json
from pathlib import Path

from qa4re.evaluation.metrics import PairCounts, accuracy, confusion_matrix, macro_scores, micro_prf, per_relation, semeval_official
from qa4re.evaluation.results import EvaluationResult, Metrics
from qa4re.evaluation.stats import bootstrap_pair_intervals
from qa4re.schemas.model import RelationSchema


def compute_metrics(
    pairs: PairCounts, schema: RelationSchema, *, n_examples: int, n_errors: int, semeval: bool, n_fallback: int = 0, n_rule: int = 0
) -> Metrics:
    """All metrics of one run. ``pairs`` counts (gold, prediction) over the examples whose gold is known.

    A closed-set schema (no NA option) adds macro P/R/F1 over its relations, with bootstrap intervals.
    """
    micro = micro_prf(pairs, schema.na_relation)
    relations = schema.positive_relations
    closed = not schema.offers_na
    macro = macro_scores(pairs, relations) if closed else None
    intervals = bootstrap_pair_intervals(pairs, lambda p: _closed_set_values(p, relations)) if closed else None
    return Metrics(
        micro_precision=micro["precision"], micro_recall=micro["recall"], micro_f1=micro["f1"], accuracy=accuracy(pairs), n_examples=n_examples,
        n_errors=n_errors, n_scored=sum(n for (_, p), n in pairs.items() if p is not None), na_relation=schema.na_relation,
        per_relation=per_relation(pairs), confusion_matrix=confusion_matrix(pairs), semeval_official=semeval_official(pairs) if semeval else None,
        n_fallback=n_fallback, n_rule=n_rule, macro=macro, macro_ci95=intervals,
    )  # fmt: skip


def _closed_set_values(pairs: PairCounts, relations: tuple[str, ...]) -> dict[str, float]:
    m = macro_scores(pairs, relations)
    return {"macro_precision": m["macro_precision"], "macro_recall": m["macro_recall"], "macro_f1": m["macro_f1"], "mean_f1": m["mean_f1"],
            "accuracy": accuracy(pairs)}  # fmt: skip


def headline_rows(result: EvaluationResult) -> list[tuple[str, str]]:
    """The headline numbers as (name, value) rows, percentages with two decimals."""
    m, d = result.metrics, result.diagnostics
    rows = [
        ("micro P (no NA)", f"{100 * m.micro_precision:.2f}"),
        ("micro R (no NA)", f"{100 * m.micro_recall:.2f}"),
        ("micro F1 (no NA)", f"{100 * m.micro_f1:.2f}"),
        ("accuracy", f"{100 * m.accuracy:.2f}"),
    ]
    if m.semeval_official is not None:
        rows.append(("SemEval official macro-F1", f"{100 * m.semeval_official['macro_f1']:.2f}"))
    if m.macro is not None:
        ci = m.macro_ci95 or {}
        named = {"macro_precision": "macro P", "macro_recall": "macro R", "macro_f1": "macro F1 (harmonic of P, R)", "mean_f1": "macro F1 (mean per relation)"}
        for key, name in named.items():
            low, high = ci.get(key, (float("nan"), float("nan")))
            rows.append((f"{name} [95% CI]", f"{100 * m.macro[key]:.2f} [{100 * low:.2f}, {100 * high:.2f}]"))  # type: ignore[literal-required]
        low, high = ci.get("accuracy", (float("nan"), float("nan")))
        rows.append(("accuracy [95% CI]", f"{100 * m.accuracy:.2f} [{100 * low:.2f}, {100 * high:.2f}]"))
    rows += [("examples", str(m.n_examples)), ("errors", str(m.n_errors))]
    if (exposure := result.run.tuning_exposure) is not None:
        listed = f" ({', '.join(exposure['seen'])})" if exposure["seen"] else ""
        rows.append(("relations seen in tuning", f"{len(exposure['seen'])} of {exposure['relations']}{listed}"))
    if m.n_fallback:
        rows.append(("offered every relation (type pair unknown)", str(m.n_fallback)))
    if m.n_rule:
        rows.append(("decided without the model (rule)", str(m.n_rule)))
    if d.top_answer_share is not None:
        rows.append(("top answer", f"'{d.top_answer}' {100 * d.top_answer_share:.1f}%"))
    if d.mean_letter_mass is not None:
        rows.append(("mean letter mass", f"{100 * d.mean_letter_mass:.1f}%"))
    if (g := d.gold_rank) is not None:
        rows.append(("gold rank (chance)", f"{g.mean:.2f} ({g.chance:.2f})"))
        rows.append(("gold rank advantage [95% CI]", f"{g.advantage:.2f} [{g.advantage_ci95[0]:.2f}, {g.advantage_ci95[1]:.2f}]"))
    return rows


def render_report(result: EvaluationResult) -> str:
    """report.md: headline table, run settings, per-relation table, confusion matrix."""
    lines = ["# qa4re evaluation", ""]
    lines += [f"> **Warning:** {w}" + "\n" for w in result.diagnostics.warnings]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in headline_rows(result)]
    lines += ["", "## Run", "", "```", json.dumps(result.run.to_json(), indent=2), "```", "", "## Per relation", ""]
    lines += ["| relation | P | R | F1 | gold | predicted |", "|---|---|---|---|---|---|"]
    for label, s in result.metrics.per_relation.items():
        lines.append(f"| {label} | {100 * s['precision']:.1f} | {100 * s['recall']:.1f} | {100 * s['f1']:.1f} | {s['gold']} | {s['predicted']} |")
    matrix = result.metrics.confusion_matrix
    columns = sorted({c for row in matrix.values() for c in row})
    lines += ["", "## Confusion matrix (rows: gold, columns: prediction)", ""]
    lines += ["| gold \\ predicted | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for gold in sorted(matrix):
        lines.append(f"| {gold} | " + " | ".join(str(matrix[gold].get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(directory: Path, result: EvaluationResult) -> None:
    """Write metrics.json and report.md into ``directory``."""
    (directory / "metrics.json").write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (directory / "report.md").write_text(render_report(result), encoding="utf-8")
