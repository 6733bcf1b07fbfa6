"""Letter only: the answer's letter, read where the backends read QA4RE's (one token of signal per item)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qa4re.backends.encoding import PromptEncoder
from qa4re.tuning.objectives.base import Example, first_tokens, request, token_loss, with_answer
from qa4re.tuning.render import RenderedItem


class LetterObjective:
    name = "letter"

    def example(self, item: RenderedItem, encoder: PromptEncoder) -> Example:
        encoded = encoder.encode(request(item))
        letters = first_tokens(encoded.answer_ids, item.letters)
        return with_answer(encoded.prompt_ids, encoded.answer_ids[item.letters[item.gold]], letters, item.gold)

    def loss(self, model: Any, examples: Sequence[Example], pad_id: int) -> Any:
        return token_loss(model, examples, pad_id)
