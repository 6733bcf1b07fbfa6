"""PNG plots of an experiment: F1 by variant and template set, reliability diagram, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402

from qa4re.experiments.report import Group  # noqa: E402


def _f1_by_variant(groups: Sequence[Group], path: Path) -> None:
    models = list(dict.fromkeys(g.model for g in groups))
    variants = list(dict.fromkeys(g.variant for g in groups))
    settings = list(dict.fromkeys((g.templates, g.shots) for g in groups))
    figure, axes = plt.subplots(1, len(models), figsize=(max(6, 1.6 * len(variants) + 2) * len(models), 4.5), squeeze=False)
    width = 0.8 / len(settings)
    for axis, model in zip(axes[0], models, strict=True):
        for s, (templates, shots) in enumerate(settings):
            rows = {g.variant: g for g in groups if g.model == model and (g.templates, g.shots) == (templates, shots)}
            xs = [v + s * width - 0.4 + width / 2 for v in range(len(variants))]
            means = [100 * rows[v].f1[0] if v in rows else 0.0 for v in variants]
            stds = [100 * rows[v].f1[1] if v in rows else 0.0 for v in variants]
            axis.bar(xs, means, width, yerr=stds, capsize=2, label=f"{templates}, {shots}-shot")
        axis.set_xticks(range(len(variants)), variants, rotation=20, ha="right")
        axis.set_ylabel("micro-F1 (NA excluded), %")
        axis.set_title(model)
        axis.legend(fontsize="small")
    figure.suptitle(f"{groups[0].dataset}: F1 by variant and template set (error bars: std over seeds)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _reliability(groups: Sequence[Group], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    best_of_variant: dict[str, Group] = {}
    for g in groups:
        if g.reliability and (g.variant not in best_of_variant or g.f1[0] > best_of_variant[g.variant].f1[0]):
            best_of_variant[g.variant] = g
    for g in best_of_variant.values():
        used = [b for b in g.reliability if b.count]
        if used:
            label = f"{g.variant} · {g.model} · {g.templates} · {g.shots}-shot (ECE {g.ece:.2f})"
            axis.plot([b.mean_confidence for b in used], [b.accuracy for b in used], marker="o", label=label)
    axis.set_xlabel("confidence of the chosen relation")
    axis.set_ylabel("accuracy")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_title(f"{groups[0].dataset}: reliability (best setting of each variant)", fontsize="medium")
    axis.legend(fontsize="x-small", loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _confusion(group: Group, path: Path) -> None:
    cell = group.best_cell
    assert cell is not None
    matrix: dict[str, dict[str, int]] = cell.evaluation.metrics.confusion_matrix
    golds = sorted(matrix)
    predicted = sorted({p for row in matrix.values() for p in row})
    values = [[matrix[g].get(p, 0) for p in predicted] for g in golds]
    size = max(5.0, 0.35 * max(len(golds), len(predicted)) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(values, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="examples")
    top = max((v for row in values for v in row), default=0)
    for i, row in enumerate(values):
        for j, count in enumerate(row):
            if count:
                axis.text(j, i, str(count), ha="center", va="center", fontsize="xx-small", color="white" if count > top / 2 else "black")
    axis.set_xticks(range(len(predicted)), predicted, rotation=90, fontsize="x-small")
    axis.set_yticks(range(len(golds)), golds, fontsize="x-small")
    axis.set_xlabel("prediction")
    axis.set_ylabel("gold")
    axis.set_title(f"{cell.cell.id}\nF1 {100 * cell.evaluation.metrics.micro_f1:.2f}", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_plots(groups: Sequence[Group], directory: Path) -> dict[str, list[str]]:
    """Three PNGs per dataset in ``directory``; returns their paths relative to its parent, by dataset."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for dataset in dict.fromkeys(g.dataset for g in groups):
        rows = [g for g in groups if g.dataset == dataset]
        best = max(rows, key=lambda g: g.f1[0])
        names = [f"{dataset}-f1.png", f"{dataset}-reliability.png", f"{dataset}-confusion-best.png"]
        _f1_by_variant(rows, directory / names[0])
        _reliability(rows, directory / names[1])
        _confusion(best, directory / names[2])
        written[dataset] = [f"{directory.name}/{name}" for name in names]
    return written
