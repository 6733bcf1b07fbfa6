"""The objective seam: a rendered item becomes a token example; a batch of examples becomes a loss.

An objective is registered by name in :data:`OBJECTIVES` (entry-point group ``qa4re.objectives``).
The default loss is teacher-forced cross-entropy on the example's labelled tokens, averaged per
example, so a long answer weighs no more than a short one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, ScoreRequest
from qa4re.backends.encoding import PromptEncoder
from qa4re.registry import Registry
from qa4re.tuning.render import RenderedItem

IGNORE = -100  # label of a token the loss skips (torch's cross_entropy ignore_index)


@dataclass(frozen=True, slots=True)
class Example:
    """Token ids of one training example: ``labels[i]`` is the target at position ``i`` (IGNORE: none)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    prompt_length: int
    letter_ids: tuple[int, ...] = ()  # each option letter's first token, in option order
    gold: int = 0
    reply_ids: tuple[tuple[int, ...], ...] = ()  # each option's text as the reply, for objectives that read them


def request(item: RenderedItem) -> ScoreRequest:
    """The item as the backends score a QA4RE prompt: the same system message, no answer prefix, letters as answers."""
    return ScoreRequest(item.prompt, item.letters, DEFAULT_SYSTEM_MESSAGE, "")


def with_answer(prompt_ids: Sequence[int], answer_ids: Sequence[int], letter_ids: tuple[int, ...], gold: int) -> Example:
    ids = (*prompt_ids, *answer_ids)
    labels = (IGNORE,) * len(prompt_ids) + tuple(answer_ids)
    return Example(ids, labels, len(prompt_ids), letter_ids, gold)


def first_tokens(answer_ids: dict[str, list[int]], letters: Sequence[str]) -> tuple[int, ...]:
    return tuple(answer_ids[letter][0] for letter in letters)


class Objective(Protocol):
    name: str

    def example(self, item: RenderedItem, encoder: PromptEncoder) -> Example: ...

    def loss(self, model: Any, examples: Sequence[Example], pad_id: int) -> Any: ...


def padded(examples: Sequence[Example], pad_id: int, device: Any, left: bool = False) -> tuple[Any, Any, Any]:
    """Input ids, attention mask and labels of ``examples``, padded on the right (or the left)."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        span = slice(width - n, width) if left else slice(0, n)
        ids[row, span] = torch.tensor(e.input_ids)
        mask[row, span] = 1
        labels[row, span] = torch.tensor(e.labels)
    return ids.to(device), mask.to(device), labels.to(device)


def answer_logits(model: Any, examples: Sequence[Example], pad_id: int) -> tuple[Any, Any]:
    """Logits at the positions that predict the labelled tokens, and those tokens (IGNORE where none).

    The rows are padded on the left, so every row's answer ends at the last position, and only the
    last (longest answer + 1) positions go through the output layer: for a letter that is one
    position instead of the whole prompt (a 49k-word vocabulary makes that most of the memory).
    RoPE attends by relative position, so the left padding does not change what a row computes.
    """
    ids, mask, labels = padded(examples, pad_id, model.device, left=True)
    keep = max(len(e.input_ids) - e.prompt_length for e in examples) + 1
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits[:, :-1].float()
    return logits, labels[:, -(keep - 1) :]


def token_loss(model: Any, examples: Sequence[Example], pad_id: int) -> Any:
    """Cross-entropy on the labelled tokens, the mean per example, then over examples."""
    import torch

    if getattr(model.config, "is_encoder_decoder", False):
        return seq2seq_loss(model, examples, pad_id)
    logits, targets = answer_logits(model, examples, pad_id)
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")
    counts = (targets != IGNORE).sum(dim=1).clamp(min=1)
    return (per_token.sum(dim=1) / counts).mean()


def seq2seq_loss(model: Any, examples: Sequence[Example], pad_id: int) -> Any:
    """The same loss for an encoder-decoder model: the prompt is the encoder's input, the labelled tokens the decoder's."""
    import torch

    prompts = [Example(e.input_ids[: e.prompt_length], (IGNORE,) * e.prompt_length, e.prompt_length) for e in examples]
    replies = [Example(e.input_ids[e.prompt_length :], e.labels[e.prompt_length :], 0) for e in examples]
    ids, mask, _ = padded(prompts, pad_id, model.device)
    _, _, labels = padded(replies, pad_id, model.device)
    logits = model(input_ids=ids, attention_mask=mask, labels=labels).logits.float()
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")
    counts = (labels != IGNORE).sum(dim=1).clamp(min=1)
    return (per_token.sum(dim=1) / counts).mean()


OBJECTIVES: Registry[Any] = Registry(
    "objective",
    "qa4re.objectives",
    {
        "letter": "qa4re.tuning.objectives.letter:LetterObjective",
        "content": "qa4re.tuning.objectives.content:ContentObjective",
        "text": "qa4re.tuning.objectives.text:TextObjective",
    },
)
