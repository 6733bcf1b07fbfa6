"""Requests -> token ids, the same for every local backend (transformers and llama.cpp).

The prompt goes into the chat template when one is used (system message, user message, the
assistant turn opened and ``answer_prefix`` prefilled), or stays bare with ``answer_prefix``
appended. Each answer is tokenized together with the prompt text, as the model would read it, and
its tail is kept; when one answer's tokens begin another's, every answer is scored to its end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from qa4re.backends.base import OptionScores, ScoreRequest
from qa4re.errors import BackendError

Tokenize = Callable[[str, bool], list[int]]  # (text, add the special tokens a bare input gets) -> ids
ChatTemplate = Callable[[list[dict[str, str]]], str]  # messages -> text with the assistant turn opened


@dataclass(frozen=True, slots=True)
class Encoded:
    prompt_ids: list[int]
    answer_ids: dict[str, list[int]]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def has_prefix_answers(answers: Mapping[str, Sequence[int]]) -> bool:
    """True when one answer's tokens begin another's (its score could never exceed the other's prefix)."""
    targets = sorted(tuple(t) for t in answers.values() if t)
    return any(b[: len(a)] == a for a, b in zip(targets, targets[1:], strict=False))


@dataclass(frozen=True)
class PromptEncoder:
    """How one model reads a request: its tokenizer, its chat template (None: bare prompts), what ends an answer."""

    tokenize: Tokenize
    chat: ChatTemplate | None
    end_ids: tuple[int, ...]
    is_seq2seq: bool = False
    max_positions: int | None = None  # the model's context; None: no fixed limit

    def text(self, prompt: str, system: str | None, answer_prefix: str = "") -> str:
        """The model's input text; ``answer_prefix`` starts the assistant turn (chat) or follows the prompt."""
        if self.chat is None:
            return prompt + answer_prefix
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return self.chat(messages) + answer_prefix

    def ids(self, text: str) -> list[int]:
        # Chat-template text already holds its special tokens; T5 wants its trailing </s>.
        return self.tokenize(text, self.is_seq2seq or self.chat is None)

    def encode(self, request: ScoreRequest) -> Encoded:
        """Prompt and answer token ids; a prompt longer than the context is BackendError."""
        text = self.text(request.prompt, request.system, request.answer_prefix)
        prompt_ids = self.ids(text)
        if self.max_positions and len(prompt_ids) > self.max_positions:
            raise BackendError(f"the prompt has {len(prompt_ids)} tokens, more than the model's context of {self.max_positions}")
        # The answer follows a chat turn's start directly, or a space after other text ("Option: A").
        bare = text[-1:].isspace() or (self.chat is not None and not request.answer_prefix)
        answers: dict[str, list[int]] = {}
        for answer in request.answers:
            if self.is_seq2seq:
                answers[answer] = self.tokenize(answer, False)
                continue
            surface = answer if bare else " " + answer
            # Tokenize prompt + answer together (as the model would see it) and keep the tail.
            whole = self.ids(text + surface)
            answers[answer] = whole[len(prompt_ids) :] if whole[: len(prompt_ids)] == prompt_ids else self.tokenize(surface, False)
        if has_prefix_answers(answers):
            # "A" would be a prefix of "AJ" (two tokens here): every answer is scored up to its end, so any can win.
            answers = {a: [*t, *self.end_ids] for a, t in answers.items()}
        return Encoded(prompt_ids, answers)


def with_lengths(result: OptionScores, encoded: Encoded) -> OptionScores:
    """``result`` with the number of tokens of each answer as it was scored (a method may normalise by it)."""
    return replace(result, lengths={a: len(t) for a, t in encoded.answer_ids.items()})


def stop_at(text: str, stops: Sequence[str]) -> str:
    """``text`` cut at the first of each stop string, in order."""
    for stop in stops:
        text = text.split(stop, 1)[0] if stop else text
    return text
