"""Typed results of an evaluation, from the library to the CLI, the report and the experiment runner.

``EvaluationResult.to_json()`` is the content of metrics.json (its keys are a stable format).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qa4re.evaluation.metrics import PRF, MacroScore, SemEvalScore


@dataclass(frozen=True)
class Metrics:
    """Scores of one run (fractions in [0, 1]); micro P/R/F1 exclude the NA relation."""

    micro_precision: float
    micro_recall: float
    micro_f1: float
    accuracy: float
    n_examples: int
    n_errors: int
    n_scored: int
    na_relation: str
    per_relation: dict[str, PRF]
    confusion_matrix: dict[str, dict[str, int]]
    semeval_official: SemEvalScore | None = None  # SemEval-2010 Task 8 only
    n_fallback: int = 0  # examples whose type pair the constraints lack, offered every relation
    n_rule: int = 0  # examples decided without a model call (NA for an unknown type pair)
    macro: MacroScore | None = None  # closed-set schemas (no NA option): macro P/R/F1 over the relations
    macro_ci95: dict[str, tuple[float, float]] | None = None  # bootstrap intervals of ``macro``'s values and accuracy

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: v for k, v in asdict(self).items() if k not in ("semeval_official", "per_relation", "confusion_matrix")}
        if self.macro_ci95 is not None:
            data["macro_ci95"] = {k: list(v) for k, v in self.macro_ci95.items()}
        if self.semeval_official is not None:
            official = self.semeval_official
            data |= {"semeval_official_macro_f1": official["macro_f1"], "semeval_official_macro_precision": official["macro_precision"],
                     "semeval_official_macro_recall": official["macro_recall"], "semeval_per_type": official["per_type"]}  # fmt: skip
        return data | {"per_relation": self.per_relation, "confusion_matrix": self.confusion_matrix}


@dataclass(frozen=True)
class GoldRank:
    """Mean rank of the gold option (1 = best) against its chance value, over ``n`` rankable examples."""

    n: int
    mean: float
    chance: float
    advantage: float  # chance - rank, averaged
    advantage_ci95: tuple[float, float]


@dataclass(frozen=True)
class Diagnostics:
    """Does the model answer by meaning or by position (see :mod:`qa4re.evaluation.diagnostics`)."""

    n_answers: int
    top_answer: str | None
    top_answer_share: float | None
    answer_counts: dict[str, int]
    mean_letter_mass: float | None
    gold_rank: GoldRank | None
    warnings: tuple[str, ...]
    n_positive: int = 0  # model-answered examples whose gold is a relation (not NA)
    n_gold_offered: int = 0  # of those, how many had a gold relation among the final prompt's options (selection's recall)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.gold_rank is None:
            data.pop("gold_rank")
        else:
            data["gold_rank"]["advantage_ci95"] = list(self.gold_rank.advantage_ci95)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class RunRecord:
    """How the run was made and what it cost; ``settings`` is enough to rerun it."""

    settings: dict[str, Any]
    fingerprint: str
    seconds: float
    model_calls: int | None  # new calls (the cache answered the rest); None when the backend does not count
    model_errors: int
    prompts_per_example: float | None  # the method's cost, cached or not
    usage: dict[str, Any] | None = None  # tokens a server reported, and their estimated cost
    tokens_per_example: float | None = None  # tokens a local model ran per example, cached or not (None: not counted)
    peak_rss_mib: float | None = None  # peak resident memory during the run (meaningful when model_calls > 0)
    tuning_exposure: dict[str, Any] | None = None  # a tuned model: which of the schema's relations its tuning items showed (its card)

    def to_json(self) -> dict[str, Any]:
        data = {**self.settings, "seconds": self.seconds, "model_calls": self.model_calls, "model_errors": self.model_errors,
                "prompts_per_example": self.prompts_per_example, "tokens_per_example": self.tokens_per_example,
                "peak_rss_mib": self.peak_rss_mib}  # fmt: skip
        data |= {"tuning_exposure": self.tuning_exposure} if self.tuning_exposure is not None else {}
        return data | ({"usage": self.usage} if self.usage is not None else {})


@dataclass(frozen=True)
class EvaluationResult:
    """Everything one evaluation measured."""

    metrics: Metrics
    diagnostics: Diagnostics
    run: RunRecord

    def to_json(self) -> dict[str, Any]:
        """metrics.json: the metrics' keys, then ``diagnostics`` and ``run``."""
        return self.metrics.to_json() | {"diagnostics": self.diagnostics.to_json(), "run": self.run.to_json()}
