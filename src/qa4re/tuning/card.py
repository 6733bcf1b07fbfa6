"""The card beside a tuned adapter (or model): what it is, what it saw, how it was made, what it measured."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qa4re.backends.adapters import weights_digest
from qa4re.tuning.settings import TuneSettings

# What the shared multiple-choice file's SOURCE.md says of its parts' licences.
DATA_LICENCES = (
    "MMLU (hendrycks/test): MIT",
    "CommonsenseQA v1.0 (salesforce/cos-e): the cos-e repository is BSD-3-Clause; it does not restate CommonsenseQA's own licence",
    "ARC, OpenBookQA, PIQA, SIQA, CommonsenseQA v1.11, MathQA, LogiQA, AGIEval (mosaicml/llm-foundry's eval data): the repository is "
    "Apache-2.0 and does not state these datasets' own licences",
)


def write_card(
    output: Path, key: str, settings: TuneSettings, sources: Sequence[str], digest: str, base_fingerprint: str,
    report: Any, n_train: int, n_errors: int, heldout: str, n_heldout: int, exposure: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    import peft
    import torch
    import transformers

    exposure = exposure or {"relations": [], "excluded": {}}
    card = {
        "key": key,
        "kind": "model" if settings.full else "lora-adapter",
        "base_model": settings.model,
        "base_fingerprint": base_fingerprint,
        "weights_sha256": weights_digest(output),
        "data": {"sources": list(sources), "train_items": n_train, "bad_records": n_errors, "sha256": digest, "licences": list(DATA_LICENCES)},
        "relations": exposure,  # relations the items showed, and the evaluation splits kept out
        "heldout": {"source": heldout, "split": "heldout", "items": n_heldout, "wording": "the held-out instruction (never trained on)"},
        "settings": asdict(settings),
        "report": asdict(report),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__, "python": platform.python_version()},
    }
    (output / "card.json").write_text(json.dumps(card, indent=1))
    how = "full tuning" if settings.full else f"LoRA rank {settings.lora_rank}, alpha {settings.lora_alpha} on {settings.lora_targets}"
    lines = [
        f"# {'Tuned model' if settings.full else 'LoRA adapter'} for {settings.model} (qa4re tune)",
        "",
        f"- Base model: `{settings.model}` (fingerprint `{base_fingerprint}`)",
        f"- Objective: {settings.objective}; {how}",
        f"- Steps: {report.steps} of {settings.batch_size} x {settings.grad_accum} items; {report.items} items seen, "
        f"{report.skipped_long} left out as too long; {report.seconds / 60:.1f} min",
        f"- Data: {', '.join(sources)} (split train, {n_train} items, {n_errors} bad records, sha256 `{digest[:16]}`); "
        "no relation-extraction data unless a source above is one",
        f"- Held-out: {n_heldout} items of {heldout} (split heldout), asked in a wording never trained on",
        f"- Relations seen in tuning: {len(exposure['relations'])} (listed in card.json)"
        + "".join(f"; kept out: the relations of {ref} and their inverses" for ref in exposure["excluded"]),
        f"- Seed {settings.seed}, learning rate {settings.learning_rate:g}, dtype {settings.dtype}",
        "",
        "| step | items | own options | chance | top letter | padded | chance | top letter |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for point in report.curve:
        own, padded = point["own"], point["padded"]
        lines.append(
            f"| {point['step']} | {point['items']} | {own['accuracy']:.3f} | {own['chance']:.3f} | {own['top_letter']} {own['top_share']:.0%} | "
            f"{padded['accuracy']:.3f} | {padded['chance']:.3f} | {padded['top_letter']} {padded['top_share']:.0%} |"
        )
    lines += ["", "Licences of the tuning data:", *[f"- {x}" for x in DATA_LICENCES], ""]
    (output / "README.md").write_text("\n".join(lines))
