"""The macro P/R/F1 table of a closed-set experiment grid (FewRel's unseen relations), from its cells' metrics.json.

    python scripts/closed_set_table.py runs/fewrel-unseen

One row per cell: model, variant, template set, macro P, macro R, macro F1 in both conventions
(harmonic mean of macro P and R, as ZS-BERT and RE-Matching; mean per-relation F1, as GLiREL) with
their 95% bootstrap intervals, accuracy, the top answer's share, the gold-rank advantage, and which
of the split's relations the model's tuning items showed (from the adapter's card).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _pct(value: float, interval: list[float] | None = None) -> str:
    text = f"{100 * value:.1f}"
    return f"{text} [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]" if interval else text


def row(path: Path, output: Path) -> list[str] | None:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    macro, ci = data.get("macro"), data.get("macro_ci95") or {}
    if macro is None:
        return None
    parts = path.relative_to(output / "cells").parts  # dataset/model/variant/templates/shots/seed/metrics.json
    d = data["diagnostics"]
    rank = d.get("gold_rank") or {}
    exposure = data["run"].get("tuning_exposure")
    seen = "no tuning card" if exposure is None else f"{len(exposure['seen'])} of {exposure['relations']}"
    share = f"'{d['top_answer']}' {100 * d['top_answer_share']:.0f}%" if d.get("top_answer_share") is not None else "–"
    advantage = f"{rank['advantage']:.2f} [{rank['advantage_ci95'][0]:.2f}, {rank['advantage_ci95'][1]:.2f}]" if rank else "–"
    return [
        parts[1], parts[2], parts[3], _pct(macro["macro_precision"]), _pct(macro["macro_recall"]),
        _pct(macro["macro_f1"], ci.get("macro_f1")), _pct(macro["mean_f1"], ci.get("mean_f1")),
        _pct(data["accuracy"], ci.get("accuracy")), share, advantage, seen,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="The experiment's --output folder.")
    args = parser.parse_args()
    header = ["model", "variant", "templates", "macro P", "macro R", "macro F1 (harmonic) [95% CI]", "mean per-relation F1 [95% CI]",
              "accuracy [95% CI]", "top answer", "gold rank adv. [95% CI]", "split's relations seen in tuning"]  # fmt: skip
    rows = [r for p in sorted((args.output / "cells").rglob("metrics.json")) if (r := row(p, args.output)) is not None]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
