"""How often a SemEval run's answer names the gold relation type, ignoring the direction.

Vanilla prompting by generation often answers "Cause-Effect" for "Cause-Effect(e1,e2)": the
paper's exact-label protocol scores that as wrong. This counts, per predictions.jsonl, the
examples whose predicted relation (or, when none parsed, the model's text) has the gold type.

    python scripts/semeval_type_agreement.py runs/accuracy-semeval-1.5b/cells/semeval/*/*/default/0-shot/seed-0/predictions.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def relation_type(label: str | None) -> str:
    return (label or "").split("(")[0].strip()


def main() -> None:
    for path in map(Path, sys.argv[1:]):
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        records = [r for r in records if r.get("gold") is not None]
        said = [relation_type(r.get("prediction") or r.get("answer")) for r in records]
        agree = sum(s == relation_type(r["gold"]) for s, r in zip(said, records, strict=True))
        top_type, top_count = Counter(relation_type(r["gold"]) for r in records).most_common(1)[0]
        print(f"{path}: gold type named in {agree} of {len(records)} (most frequent gold type {top_type}: {top_count})")


if __name__ == "__main__":
    main()
