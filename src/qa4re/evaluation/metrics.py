"""Pure metric functions over (gold, prediction) pair counts.

Every metric here is a function of how often each (gold, prediction) pair occurs, so a run of
any length keeps one small Counter in memory. A prediction of None means the example has no
prediction (an error).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TypedDict

PairCounts = Mapping[tuple[str, str | None], int]


def pair_counts(golds: Iterable[str], predictions: Iterable[str | None]) -> Counter[tuple[str, str | None]]:
    """Count the (gold, prediction) pairs of two parallel sequences."""
    return Counter(zip(golds, predictions, strict=True))


SEMEVAL_OTHER = "Other"


class PRF(TypedDict):
    """Precision, recall and F1 (fractions in [0, 1]) with their counts."""

    precision: float
    recall: float
    f1: float
    correct: int
    predicted: int
    gold: int


def _prf(correct: int, predicted: int, gold: int) -> PRF:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "correct": correct, "predicted": predicted, "gold": gold}


def micro_prf(pairs: PairCounts, na: str) -> PRF:
    """Micro P/R/F1 over the positive labels, as the TACRED scorer computes it.

    TP: correct non-NA predictions. Predicted: non-NA predictions (gold NA included).
    Gold: non-NA gold labels (examples without a prediction included).
    """
    correct = sum(n for (g, p), n in pairs.items() if p == g and g != na)
    predicted = sum(n for (_, p), n in pairs.items() if p is not None and p != na)
    gold = sum(n for (g, _), n in pairs.items() if g != na)
    return _prf(correct, predicted, gold)


def accuracy(pairs: PairCounts) -> float:
    """Fraction of examples predicted exactly (examples without a prediction count as wrong)."""
    total = sum(pairs.values())
    return sum(n for (g, p), n in pairs.items() if g == p) / total if total else 0.0


def per_relation(pairs: PairCounts) -> dict[str, PRF]:
    """P/R/F1 of every label that occurs as gold or prediction."""
    correct: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for (g, p), n in pairs.items():
        gold[g] += n
        if p is not None:
            predicted[p] += n
        if p == g:
            correct[g] += n
    return {label: _prf(correct[label], predicted[label], gold[label]) for label in sorted(set(gold) | set(predicted))}


class MacroScore(TypedDict):
    """Closed-set scores over a fixed relation list (fractions in [0, 1]), the zero-shot benchmarks' two conventions."""

    macro_precision: float  # mean over the relations of each one's precision (0 where never predicted)
    macro_recall: float
    macro_f1: float  # harmonic mean of macro precision and macro recall (ZS-BERT, RE-Matching)
    mean_f1: float  # mean of the per-relation F1 values (GLiREL)


def macro_scores(pairs: PairCounts, relations: Iterable[str]) -> MacroScore:
    """Macro P/R/F1 over ``relations`` (each counts once, whether or not it was predicted)."""
    by_label = per_relation(pairs)
    scores = [by_label.get(r) or _prf(0, 0, 0) for r in relations]
    count = len(scores) or 1
    precision, recall = sum(s["precision"] for s in scores) / count, sum(s["recall"] for s in scores) / count
    return {
        "macro_precision": precision,
        "macro_recall": recall,
        "macro_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "mean_f1": sum(s["f1"] for s in scores) / count,
    }


def confusion_matrix(pairs: PairCounts) -> dict[str, dict[str, int]]:
    """``matrix[gold][prediction]`` counts; a missing prediction is the column ``"(none)"``."""
    matrix: dict[str, dict[str, int]] = {}
    for (g, p), n in sorted(pairs.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        row = matrix.setdefault(g, {})
        key = p if p is not None else "(none)"
        row[key] = row.get(key, 0) + n
    return matrix


def semeval_relation_type(label: str) -> str:
    """``"Cause-Effect(e2,e1)"`` -> ``"Cause-Effect"``."""
    return label.split("(", 1)[0]


class SemEvalScore(TypedDict):
    """The official SemEval-2010 Task 8 score and its parts (fractions in [0, 1])."""

    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_type: dict[str, PRF]


def semeval_official(pairs: PairCounts) -> SemEvalScore:
    """Macro-F1 over the 9 relation types, direction-aware, Other excluded (official scorer v1.2).

    Per type: correct = exact directional matches; predicted = scored predictions of that type
    in any direction; gold = gold examples of that type in any direction (examples without a
    prediction count here, as the scorer counts skipped examples). Macro-F1 is the mean of the
    per-type F1 values.
    """
    types = sorted({semeval_relation_type(g) for g, _ in pairs} - {SEMEVAL_OTHER})
    correct: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for (g, p), n in pairs.items():
        gold[semeval_relation_type(g)] += n
        if p is None:
            continue
        predicted[semeval_relation_type(p)] += n
        if p == g:
            correct[semeval_relation_type(g)] += n
    per_type = {t: _prf(correct[t], predicted[t], gold[t]) for t in types}
    count = len(per_type) or 1
    return {
        "macro_precision": sum(s["precision"] for s in per_type.values()) / count,
        "macro_recall": sum(s["recall"] for s in per_type.values()) / count,
        "macro_f1": sum(s["f1"] for s in per_type.values()) / count,
        "per_type": per_type,
    }
