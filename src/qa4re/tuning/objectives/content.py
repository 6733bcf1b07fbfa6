"""Content plus letter: the reply is the letter, then the option's text (``B. Paris``), then the end of the turn.

The letter comes first, where the backends read it; the text after it ties the letter to its
option (Xue et al., ACL 2024, train on content and letter together), more tokens of signal per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qa4re.backends.encoding import PromptEncoder
from qa4re.tuning.objectives.base import Example, first_tokens, request, token_loss, with_answer
from qa4re.tuning.render import RenderedItem


class ContentObjective:
    name = "content"

    def example(self, item: RenderedItem, encoder: PromptEncoder) -> Example:
        scored = request(item)
        encoded = encoder.encode(scored)
        letters = first_tokens(encoded.answer_ids, item.letters)
        text = encoder.text(scored.prompt, scored.system, scored.answer_prefix)
        letter = item.letters[item.gold]
        reply = f"{letter}. {item.texts[item.gold]}"
        whole = encoder.ids(text + reply)
        prompt = encoded.prompt_ids
        tail = whole[len(prompt) :] if whole[: len(prompt)] == prompt else [*encoded.answer_ids[letter]]
        return with_answer(prompt, [*tail, *encoder.end_ids], letters, item.gold)

    def loss(self, model: Any, examples: Sequence[Example], pad_id: int) -> Any:
        return token_loss(model, examples, pad_id)
