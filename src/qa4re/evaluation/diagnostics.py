"""Does the model answer by meaning or by position? Diagnostics of one run, with warnings.

- top-answer share: how often the most frequent answer was given (a model that always says
  "B" answers by position, whatever the options say);
- letter mass: the probability the model put on the option answers at the scored position,
  before renormalizing (low: the model wanted to say something else there, so the letter
  distribution says little);
- gold rank: the rank of the gold relation among the example's candidates by the model's
  probabilities (1 = best; ties share ranks), against its chance value ``(n + 1) / 2``. A mean
  advantage (chance - rank) whose bootstrap interval lies above zero shows content signal
  even when the argmax follows the position.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from qa4re.evaluation.results import Diagnostics, GoldRank
from qa4re.prompts.decode import letter_relation_probabilities
from qa4re.types import AnswerSource, Prediction, is_option_letter

TOP_ANSWER_WARNING = 0.8  # warn when one answer is more than this share of all answers
LETTER_MASS_WARNING = 0.5  # warn when the options hold less than this probability on average


def gold_rank(prediction: Prediction) -> tuple[float, float] | None:
    """(rank of the gold relation, its chance value) among the candidates; None if not rankable."""
    if prediction.gold is None or not prediction.option_probabilities:
        return None
    by_relation = letter_relation_probabilities(prediction.letter_to_relation, prediction.option_probabilities)
    if prediction.gold not in by_relation or len(by_relation) < 2:
        return None
    gold = by_relation[prediction.gold]
    above = sum(p > gold for p in by_relation.values())
    ties = sum(p == gold for p in by_relation.values()) - 1
    return 1 + above + ties / 2, (len(by_relation) + 1) / 2


def _interval(values: list[float], samples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    tail = (1 - level) / 2
    return means[int(tail * (samples - 1))], means[int((1 - tail) * (samples - 1))]


@dataclass
class AnswerDiagnostics:
    """Accumulates the diagnostics of a run, one prediction at a time (memory: a float per example)."""

    answers: Counter[str] = field(default_factory=Counter)
    masses: list[float] = field(default_factory=list)
    ranks: list[float] = field(default_factory=list)
    chances: list[float] = field(default_factory=list)
    na_relation: str | None = None  # given: count how often a gold relation was among the options (selection's recall)
    positives: int = 0
    offered: int = 0

    def add(self, prediction: Prediction) -> None:
        """Count one prediction (rule-based ones, e.g. NA for an unknown type pair, are not model answers)."""
        if prediction.scoring is AnswerSource.RULE or prediction.relation is None:
            return
        self.answers[prediction.answer if prediction.scoring is AnswerSource.LOGPROBS and prediction.answer else prediction.relation] += 1
        if prediction.letter_mass is not None:
            self.masses.append(prediction.letter_mass)
        if self.na_relation is not None and prediction.gold is not None and prediction.gold != self.na_relation:
            self.positives += 1
            offered = set(prediction.letter_to_relation.values())
            self.offered += any(g in offered for g in (prediction.gold, *prediction.other_golds))
        ranked = gold_rank(prediction)
        if ranked is not None:
            self.ranks.append(ranked[0])
            self.chances.append(ranked[1])

    def summary(self, samples: int = 1000, seed: int = 0) -> Diagnostics:
        """The diagnostics of the run so far, with their warnings."""
        total = sum(self.answers.values())
        top, count = self.answers.most_common(1)[0] if total else (None, 0)
        rank = None
        if self.ranks:
            advantages = [c - r for r, c in zip(self.ranks, self.chances, strict=True)]
            n = len(self.ranks)
            rank = GoldRank(n, sum(self.ranks) / n, sum(self.chances) / n, sum(advantages) / n, _interval(advantages, samples, seed))
        share = count / total if total else None
        mass = sum(self.masses) / len(self.masses) if self.masses else None
        return Diagnostics(total, top, share, dict(self.answers.most_common(10)), mass, rank, warnings(total, top, share, mass, rank),
                           self.positives, self.offered)  # fmt: skip


MEASURED = "README, Accuracy: Measured accuracy on the models that run here"  # where the advice below was measured

# What was measured to help on a model that shows each symptom (the README table named in MEASURED).
ADVICE = {
    "position": "what helped on such models: --debias pride (SemEval, Qwen2.5-Coder-0.5B: F1 +4.67 [0.40, 9.03]); "
    "--method vanilla --scoring generate where the model writes relation names (Re-DocRED, 1.5B: +22.1 F1 over qa4re)",
    "mass": "what helped on such models: --answer-prefix 'Option:' (Re-DocRED dev, Qwen2.5-Coder-1.5B: letter mass 5% -> 68%, F1 10.0 -> 17.2), "
    "with --debias content-free to keep the gold-rank signal; or --no-chat-template",
    "content": "what helped: nothing that reads letters did on the models that run here; try --method vanilla --scoring generate or "
    "--method sure, or a larger instruction-tuned model (the paper's FLAN-T5-XL/XXL, GPT-3.5)",
}


def warnings(n_answers: int, top_answer: str | None, share: float | None, mass: float | None, rank: GoldRank | None) -> tuple[str, ...]:
    """Plain-language warnings for a run's diagnostics, each with what was measured to help (see ``MEASURED``)."""
    found = []
    if share is not None and share > TOP_ANSWER_WARNING and n_answers >= 10:
        if top_answer is not None and is_option_letter(top_answer):
            found.append(f"answers by position: {share:.1%} of the answers are '{top_answer}', whatever the options say; {ADVICE['position']} ({MEASURED})")
        else:
            found.append(f"one answer dominates: {share:.1%} of the answers are '{top_answer}'")
    if mass is not None and mass < LETTER_MASS_WARNING:
        found.append(
            f"low letter mass: the options hold {mass:.0%} of the probability where the answer is read, so the model answers "
            f"elsewhere; {ADVICE['mass']} ({MEASURED})"
        )
    if rank is not None and rank.n >= 10 and rank.advantage_ci95[0] <= 0:
        low, high = rank.advantage_ci95
        found.append(
            f"no content signal: the gold option's mean rank {rank.mean:.2f} is not better than chance {rank.chance:.2f} "
            f"(95% CI of the advantage [{low:.2f}, {high:.2f}] does not lie above 0); {ADVICE['content']} ({MEASURED})"
        )
    return tuple(found)
