"""Held-out multiple-choice accuracy and letter spread of any model qa4re can load, tuned or not.

    python scripts/heldout_mc.py --items ../shared/data/mcqa/mcqa.jsonl --model default [--adapter DIR] [--limit 150] [--options 12]

The same measurement ``qa4re tune`` prints at each checkpoint (the held-out wording, never trained on;
the items' own options, then padded to ``--options``; seeded), for a model before tuning or for one
tuned elsewhere. Prints one line and, with ``--json``, writes the figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa4re.backends.settings import BackendSettings
from qa4re.tuning.heldout import heldout_sets, measure
from qa4re.tuning.items import SourceSpec, read_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", required=True, help="multiple-choice items (their heldout split is measured)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--options", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="the seed qa4re tune used (the same items, the same padding)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    (items,), _ = read_items([SourceSpec.parse(args.items)], "heldout")
    own, padded = heldout_sets(items, args.limit, args.options, args.seed)
    backend = BackendSettings(model=args.model, adapter=args.adapter).backend()
    figures = measure(backend, own, padded, args.options)
    print(f"{backend.fingerprint}: {figures.line()}")
    if args.json:
        args.json.write_text(json.dumps({"fingerprint": backend.fingerprint, **figures.as_dict()}, indent=1))


if __name__ == "__main__":
    main()
