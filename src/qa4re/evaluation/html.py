"""report.html: one self-contained page to look at a run (no network, no CDN: data, style and script inline).

For ``evaluate``: each example with its sentence and highlighted mentions, its options with probability
bars, gold and prediction; filters (errors only, by relation, by confidence, by text), kept in the address
(``report.html#errors&relation=per:title&min=0.5&q=Paris``) so a filtered view can be shared; the confusion
matrix with counts, each cell showing its examples; the run's diagnostics. For ``extract``: each
document's triples with their evidence and confidence, filtered the same way. The page renders 200
rows at a time ("show more"), so it stays usable at 10,000 examples; at most ``MAX_EXAMPLES`` are
embedded (the counts and the matrix cover them all).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

MAX_EXAMPLES = 10_000


@cache
def _asset(name: str) -> str:
    """The page's style or script (``evaluation/page/report.css``, ``report.js``), inlined into every report."""
    return resources.files("qa4re.evaluation.page").joinpath(name).read_text(encoding="utf-8")


def _page(title: str, summary: str, data: Mapping[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")  # no early end of the script element
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_asset("report.css")}</style></head>
<body><h1>{html.escape(title)}</h1>{summary}
<h2>Examples</h2>
<div id="filters"><label><input type="checkbox" id="errors"> errors only</label><select id="relation"></select>
<label>confidence ≥ <input type="number" id="confidence" min="0" max="1" step="0.05" value="0" style="width:4em"></label>
<input type="search" id="q" placeholder="id or text"><button id="cell" style="display:none"></button><span id="count"></span></div>
<div id="list"></div><button id="more">show more</button>
<h2>Confusion matrix</h2><p class="meta">Rows: gold; columns: predicted. Click a cell to see its examples.</p><table class="cm" id="matrix"></table>
<script type="application/json" id="data">{payload}</script><script>{_asset("report.js")}</script></body></html>
"""


def _summary(metrics: Mapping[str, Any]) -> str:
    diagnostics = metrics.get("diagnostics") or {}
    warnings = "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in diagnostics.get("warnings", ()))
    cells = [("micro-F1", metrics.get("micro_f1")), ("precision", metrics.get("micro_precision")), ("recall", metrics.get("micro_recall")),
             ("accuracy", metrics.get("accuracy"))]  # fmt: skip
    shown = " · ".join(f"{name} {100 * value:.2f}" for name, value in cells if isinstance(value, int | float))
    top = diagnostics.get("top_answer")
    share = diagnostics.get("top_answer_share")
    top_line = f"<p>top answer {html.escape(str(top))} ({100 * share:.1f}%)</p>" if top is not None and isinstance(share, int | float) else ""
    counts = f"{metrics.get('n_examples', 0)} examples, {metrics.get('n_errors', 0)} errors"
    return f"<p>{shown}</p><p class='meta'>{counts}</p>{top_line}<h2>Diagnostics</h2><ul>{warnings or '<li>no warnings</li>'}</ul>"


def evaluation_examples(records: Iterable[Mapping[str, Any]], texts: Mapping[str, tuple[str, tuple[int, int], tuple[int, int]]]) -> list[dict[str, Any]]:
    """The page's rows from prediction (or error) records, with each example's sentence where ``texts`` has it."""
    rows: list[dict[str, Any]] = []
    for record in records:
        if len(rows) >= MAX_EXAMPLES:
            break
        identifier = str(record.get("id"))
        text, subj, obj = texts.get(identifier, (None, None, None))
        gold, prediction = record.get("gold"), record.get("prediction")
        golds = {gold, *record.get("other_golds", ())}
        rows.append({"id": identifier, "gold": gold, "prediction": prediction, "confidence": record.get("confidence"), "error": record.get("error"),
                     "correct": prediction is not None and prediction in golds, "subj": record.get("subj", ""), "obj": record.get("obj", ""),
                     "text": text, "subj_span": subj, "obj_span": obj, "options": record.get("letter_to_relation") or {},
                     "probabilities": record.get("option_probabilities") or {}})  # fmt: skip
    return rows


def write_evaluation_report(path: Path, title: str, records: Iterable[Mapping[str, Any]], metrics: Mapping[str, Any],
                            texts: Mapping[str, tuple[str, tuple[int, int], tuple[int, int]]]) -> None:  # fmt: skip
    """``report.html`` of an evaluation run."""
    examples = evaluation_examples(records, texts)
    matrix: dict[str, dict[str, int]] = metrics.get("confusion_matrix") or {}
    labels = sorted({g for g in matrix} | {p for row in matrix.values() for p in row})
    path.write_text(_page(title, _summary(metrics), {"examples": examples, "matrix": matrix, "labels": labels}), encoding="utf-8")


def write_extraction_report(path: Path, title: str, records: Iterable[Mapping[str, Any]], summary: str) -> None:
    """``report.html`` of an extract run: one row per triple (or failed pair), its evidence with the mentions highlighted."""
    rows: list[dict[str, Any]] = []
    for record in records:
        if len(rows) >= MAX_EXAMPLES:
            break
        subject, obj, evidence = record.get("subject") or {}, record.get("object") or {}, record.get("evidence")
        spans: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)
        if isinstance(evidence, str):  # the mentions where they first occur in their evidence sentence
            found = [(k, k + len(m)) if m and (k := evidence.find(m)) >= 0 else None for m in (str(subject.get("text", "")), str(obj.get("text", "")))]
            spans = (found[0], found[1])
        identifier = f"{record.get('doc_id', record.get('id'))}: {subject.get('text', '')} → {obj.get('text', '')}"
        text = evidence if spans[0] and spans[1] else None
        rows.append({"id": identifier, "gold": None, "prediction": record.get("relation"), "confidence": record.get("confidence"),
                     "error": record.get("error"), "correct": False, "subj": subject.get("text", ""), "obj": obj.get("text", ""),
                     "text": text, "subj_span": spans[0], "obj_span": spans[1], "options": {}, "probabilities": {}})  # fmt: skip
    path.write_text(_page(title, f"<p>{html.escape(summary)}</p>", {"examples": rows, "matrix": {}, "labels": []}), encoding="utf-8")
