"""Soft targets from the model's own reading of the option texts (no labels needed).

Each option's text is scored as the reply to the prompt (mean log-probability per token, no
gradient); the softmax of those scores is the target for the letter distribution at the answer
position. The models here rank option texts better than letters, so this moves what they know
onto the letters: it teaches binding, not knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qa4re.backends.encoding import PromptEncoder
from qa4re.tuning.objectives.base import IGNORE, Example, answer_logits, first_tokens, padded, request
from qa4re.tuning.render import RenderedItem

TEMPERATURE = 1.0


class TextObjective:
    name = "text"

    def example(self, item: RenderedItem, encoder: PromptEncoder) -> Example:
        scored = request(item)
        encoded = encoder.encode(scored)
        text = encoder.text(scored.prompt, scored.system, scored.answer_prefix)
        prompt = encoded.prompt_ids
        replies = []
        for option in item.texts:
            whole = encoder.ids(text + option)
            replies.append(tuple(whole[len(prompt) :]) if whole[: len(prompt)] == prompt else tuple(encoder.tokenize(option, False)))
        letters = first_tokens(encoded.answer_ids, item.letters)
        return Example(tuple(prompt), (IGNORE,) * len(prompt), len(prompt), letters, item.gold, tuple(replies))

    def targets(self, model: Any, example: Example, pad_id: int) -> Any:
        """The softmax over options of each option text's mean log-probability as the reply."""
        import torch

        rows = [Example((*example.input_ids, *r), (IGNORE,) * example.prompt_length + r, example.prompt_length) for r in example.reply_ids]
        with torch.no_grad():
            logits, targets = answer_logits(model, rows, pad_id)
            logprobs = torch.log_softmax(logits, dim=-1)
            picked = logprobs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (targets != IGNORE)
            means = picked.sum(dim=1) / (targets != IGNORE).sum(dim=1).clamp(min=1)
            return torch.softmax(means / TEMPERATURE, dim=0)

    def loss(self, model: Any, examples: Sequence[Example], pad_id: int) -> Any:
        import torch

        soft = [self.targets(model, e, pad_id) for e in examples]
        ids, mask, _ = padded(examples, pad_id, model.device, left=True)
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[:, -1].float()
        losses = []
        for row, (example, target) in enumerate(zip(examples, soft, strict=True)):
            letter_logits = logits[row, list(example.letter_ids)]
            losses.append(-(target * torch.log_softmax(letter_logits, dim=-1)).sum())
        return torch.stack(losses).mean()
