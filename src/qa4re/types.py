"""Plain typed records shared by every layer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class AnswerSource(str, Enum):
    """How an answer was read (``Prediction.scoring``, ``OptionScores.source``)."""

    LOGPROBS = "logprobs"  # the probability of every option, from the model's log-probabilities
    TEXT = "text"  # the backend gave text only: the answer is parsed from it
    GENERATE = "generate"  # greedy text was asked for (scoring: generate), then parsed
    ENTAILMENT = "entailment"  # an NLI model's entailment probability of each filled template
    RULE = "rule"  # no model call: a rule decided (a type pair outside the constraints, predicted NA)


class ErrorKind(str, Enum):
    """Why an example has no prediction (``ErrorRecord.kind``)."""

    DATA = "data"  # the input is invalid
    MODEL = "model"  # the backend failed on it


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity mention: character span ``[start, end)`` of the sentence, and its type."""

    start: int
    end: int
    type: str | None = None


@dataclass(frozen=True, slots=True)
class RelationInstance:
    """One subject/object pair in one sentence, with the gold relation when known."""

    id: str
    text: str
    subj: Entity
    obj: Entity
    relation: str | None = None
    source: str = ""
    other_golds: tuple[str, ...] = ()  # further gold relations of the pair (multi-label data): predicting one is correct too

    @property
    def subj_text(self) -> str:
        return self.text[self.subj.start : self.subj.end]

    @property
    def obj_text(self) -> str:
        return self.text[self.obj.start : self.obj.end]

    @property
    def type_pair(self) -> str | None:
        """``"SUBJTYPE:OBJTYPE"``, or None when a type is unknown."""
        if not self.subj.type or not self.obj.type:
            return None
        return f"{self.subj.type}:{self.obj.type}"


def is_option_letter(text: str) -> bool:
    """True for a QA4RE option letter (A..Z, AA..), False for a relation label or other text."""
    return re.fullmatch(r"[A-Z]{1,2}", text) is not None


@dataclass(frozen=True, slots=True)
class Option:
    """One lettered answer option: the letter, the relation it stands for, its statement."""

    letter: str
    relation: str
    statement: str


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's answer for one instance."""

    id: str
    gold: str | None
    relation: str | None
    confidence: float
    option_probabilities: dict[str, float]
    letter_to_relation: dict[str, str]
    prompt_sha256: str
    subj: str = ""
    obj: str = ""
    answer: str | None = None
    scoring: AnswerSource = AnswerSource.LOGPROBS
    candidates_fallback: bool = False
    error: str | None = None
    letter_mass: float | None = None  # probability the model put on the options at the scored position, before renormalizing
    other_golds: tuple[str, ...] = ()  # further gold relations of the pair (multi-label data)

    @property
    def matched_gold(self) -> str | None:
        """The gold relation this prediction is scored against: the predicted one when it is among the golds."""
        return self.relation if self.relation is not None and self.relation in self.other_golds else self.gold

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "subj": self.subj,
            "obj": self.obj,
            "gold": self.gold,
            "prediction": self.relation,
            "confidence": self.confidence,
            "answer": self.answer,
            "scoring": self.scoring.value,
            "option_probabilities": self.option_probabilities,
            "letter_to_relation": self.letter_to_relation,
            "prompt_sha256": self.prompt_sha256,
        }
        if self.letter_mass is not None:
            record["letter_mass"] = self.letter_mass
        if self.candidates_fallback:
            record["candidates_fallback"] = True
        if self.error is not None:
            record["error"] = self.error
        if self.other_golds:
            record["other_golds"] = list(self.other_golds)
        return record


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An input example that could not be read or scored; it still appears in the output."""

    id: str | None
    source: str
    line: int | None
    field: str | None
    message: str
    gold: str | None = None
    kind: ErrorKind = ErrorKind.DATA

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "gold": self.gold,
            "prediction": None,
            "error": self.message,
            "source": self.source,
            "line": self.line,
            "field": self.field,
            "kind": self.kind.value,
        }


Item = RelationInstance | ErrorRecord  # what a reader yields
Output = Prediction | ErrorRecord  # what the pipeline yields, one per item
