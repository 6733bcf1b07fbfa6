"""The backend seam: score answer options for a batch of prompts; generate text; say what it can do. Nothing more.

What the layers above need of a backend beyond this is optional and read where it is used: a
backend that answers request by request may set ``commit_every`` (how many results the output
cache stores at a time), and a served one ``usage`` (the tokens its server reported).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from qa4re.types import AnswerSource

# The system message of the original QA4RE code for chat models.
DEFAULT_SYSTEM_MESSAGE = "You are a helpful assistant."


class Capability(str, Enum):
    """What a backend can do; a method names the ones it can run on."""

    LOGPROBS = "logprobs"  # score_options: the log-probability of each answer as the model's reply
    TEXT = "text"  # generate: greedy text
    ENTAILMENT = "entailment"  # score_options: log P(the prompt entails each answer), an NLI model


LANGUAGE_MODEL = frozenset({Capability.LOGPROBS, Capability.TEXT})


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    """Score each of ``answers`` as the model's reply to ``prompt``.

    ``answers`` are the option labels as the model should produce them (``"A"``, ``"B"``, ...
    for QA4RE; raw relation labels for vanilla). A backend decides their surface form (a
    completion model sees ``" A"`` after ``Option:``; a chat or seq2seq model sees ``"A"``).
    ``system`` is used only by backends that send chat messages. ``answer_prefix`` is text the
    model's reply starts with before the answer (for a chat model, prefilled into the assistant
    turn; otherwise appended to the prompt), so the answer is read where the model gives it.
    For a backend with ``Capability.ENTAILMENT`` (an NLI model) the score of an answer is
    log P(``prompt`` entails it): the prompt is the premise, each answer a hypothesis.
    """

    prompt: str
    answers: tuple[str, ...]
    system: str | None = DEFAULT_SYSTEM_MESSAGE
    answer_prefix: str = ""


@dataclass(frozen=True, slots=True)
class OptionScores:
    """Log-probability of each answer (summed over its tokens); ``-inf`` if it cannot be scored.

    ``complete`` is False when the backend saw only part of the distribution (an API's top-k).
    ``source`` is ``"text"`` when no log-probabilities were available: ``logprobs`` is empty and
    ``text`` holds what the model wrote; the pipeline reads the answer from it. ``error`` is set,
    and nothing else is meaningful, when this one request failed; such results are never cached.
    ``tokens`` is what the request cost a local model (served backends report ``usage`` instead);
    ``lengths`` the number of tokens of each answer, where the backend knows it (a method that
    normalises by length reads it).
    """

    logprobs: Mapping[str, float]
    complete: bool = True
    source: AnswerSource = AnswerSource.LOGPROBS
    error: str | None = None
    text: str | None = None
    tokens: int | None = None  # tokens the model ran for this request (prompt and scored answers); None: not counted
    lengths: Mapping[str, int] | None = None  # tokens of each answer as scored; None: unknown


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Greedy continuation of ``prompt``, stopped after ``max_new_tokens`` or at a stop string."""

    prompt: str
    max_new_tokens: int = 8
    stop: tuple[str, ...] = field(default=("\n",))
    system: str | None = DEFAULT_SYSTEM_MESSAGE


@dataclass
class Usage:
    """Tokens a server reported, summed over the run (served backends; local ones report none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    retries: int = 0

    def add(self, usage: Any) -> None:
        self.requests += 1
        if usage is not None:
            self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)


@runtime_checkable
class Backend(Protocol):
    """A language model that can score answer options and generate text.

    Both methods take a batch and return one result per request, in the same order. A failure
    the run should survive (a server error, an out-of-memory batch) is raised as
    :class:`~qa4re.errors.BackendError`, or returned per request as ``OptionScores.error``; the
    pipeline turns only those into error records. Anything else is a bug and propagates.
    """

    fingerprint: str  # stable id of model + settings; part of every cache key
    max_batch_size: int  # the pipeline sends at most this many requests per call
    capabilities: frozenset[Capability]  # without LOGPROBS the pipeline falls back to generate() + letter parsing
    max_letter_options: int | None  # most options whose letters it tells apart in one prompt (None: any); more go to tournament rounds

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """Log-probability of every answer of every request; same order, none dropped."""
        ...

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy text continuation of every request; same order."""
        ...

    def close(self) -> None:
        """Release the model and its resources."""
        ...
