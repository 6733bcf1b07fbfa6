"""An NLI (textual entailment) model behind the backend seam, for the NLI baseline (Sainz et al. 2021).

``--model nli:<folder or hub id>``: any transformers sequence-classification model trained on NLI.
A request's ``prompt`` is the premise and each of its ``answers`` a hypothesis; the score of a
hypothesis is log P(entailment | premise, hypothesis), the softmax over the model's classes read at
the entailment class, whose index comes from the model's ``id2label``. All premise-hypothesis pairs
of a call are batched together (``batch_size`` pairs per forward pass), padded per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa4re.backends.base import Capability, GenerateRequest, OptionScores, ScoreRequest
from qa4re.backends.device import BATCH_DEFAULTS, Placement, load_placed, resolve
from qa4re.errors import BackendError, BackendUnavailable


def entailment_index(id2label: dict[int, str]) -> int:
    """The class index whose label names entailment (``ENTAILMENT``, ``entailment``, ``LABEL_...`` refused)."""
    found = [i for i, label in id2label.items() if str(label).lower().startswith("entail")]
    if len(found) != 1:
        raise BackendUnavailable(f"the model's id2label {dict(id2label)} does not name one entailment class; is it an NLI model?")
    return int(found[0])


class NLIBackend:
    """A local NLI cross-encoder: scores hypotheses by their entailment probability."""

    capabilities = frozenset({Capability.ENTAILMENT})
    settings = ("batch_size", "device", "dtype", "device_map")
    max_letter_options = None

    def __init__(self, model: str, batch_size: int | None = None, device: str = "auto", dtype: str = "auto", device_map: str | None = None) -> None:
        try:
            import torch
            from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - the base install has both
            raise BackendUnavailable(f"the NLI backend needs torch and transformers ({exc})") from None
        self._torch = torch
        if model.startswith((".", "/", "~")) and not Path(model).expanduser().is_dir():
            raise BackendUnavailable(f"{model}: no such NLI model folder")
        try:
            self.placement = resolve(Placement(device, dtype, device_map), getattr(AutoConfig.from_pretrained(model), "model_type", None))
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = load_placed(AutoModelForSequenceClassification, model, self.placement)
        except OSError as exc:
            raise BackendUnavailable(f"cannot load the NLI model '{model}': {exc}") from None
        self.entailment = entailment_index(self.model.config.id2label)
        self.max_batch_size = batch_size or BATCH_DEFAULTS[self.placement.kind][0]
        identity = Path(model).resolve().name if Path(model).exists() else model
        self.fingerprint = f"nli:{identity}:entailment={self.entailment}{self.placement.tag}"

    def entailment_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """log P(entailment) of each (premise, hypothesis) pair, in order."""
        torch, out = self._torch, []
        with torch.inference_mode():
            for start in range(0, len(pairs), self.max_batch_size):
                batch = pairs[start : start + self.max_batch_size]
                encoded: Any = self.tokenizer([p for p, _ in batch], [h for _, h in batch], padding=True, truncation=True, return_tensors="pt")
                encoded = encoded.to(self.model.device)
                logits = self.model(**encoded).logits.float()
                out += torch.log_softmax(logits, dim=-1)[:, self.entailment].tolist()
        return out

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """Entailment log-probability of every hypothesis (answer) given its premise (prompt)."""
        pairs = [(r.prompt, a) for r in requests for a in r.answers]
        try:
            scores = iter(self.entailment_logprobs(pairs))
        except RuntimeError as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}") from exc
        return [OptionScores({a: next(scores) for a in r.answers}) for r in requests]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """An NLI model writes no text (an empty batch is still an empty answer)."""
        if not requests:
            return []
        raise BackendError("an NLI model cannot generate text; use it with --method nli")

    def close(self) -> None:
        """Drop the model."""
        del self.model
