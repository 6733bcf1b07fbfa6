"""A deterministic scripted backend for plumbing tests; never evidence that extraction works."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

from qa4re.backends.base import LANGUAGE_MODEL, Capability, GenerateRequest, OptionScores, ScoreRequest
from qa4re.types import AnswerSource

Script = Callable[[str, tuple[str, ...]], str]


def first_answer(prompt: str, answers: tuple[str, ...]) -> str:
    """Default script: always the first answer."""
    return answers[0]


class FakeBackend:
    """Gives probability 0.9 to the answer that ``script(prompt, answers)`` picks.

    ``history`` records every request, so tests can assert what was sent and how often.
    ``logprobs``: False declares a backend that can only write text (no ``Capability.LOGPROBS``);
    ``"runtime"`` claims log-probabilities but answers each request with text, as a server that
    drops them does. ``capabilities`` declares others (entailment, to test the NLI method's decisions).
    """

    max_batch_size = 64
    capabilities = LANGUAGE_MODEL
    settings: tuple[str, ...] = ()

    def __init__(
        self,
        script: Script = first_answer,
        fingerprint: str = "fake",
        logprobs: bool | str = True,
        max_letter_options: int | None = None,
        capabilities: frozenset[Capability] | None = None,
    ) -> None:
        self.script = script
        self.max_letter_options = max_letter_options
        self.fingerprint = fingerprint
        self.capabilities = capabilities or (LANGUAGE_MODEL if logprobs is not False else frozenset({Capability.TEXT}))
        self._text_only = logprobs == "runtime"
        self.history: list[ScoreRequest | GenerateRequest] = []

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """Scripted scores: log 0.9 for the picked answer, the rest share 0.1."""
        import math

        results = []
        for request in requests:
            self.history.append(request)
            picked = self.script(request.prompt, request.answers)
            if self._text_only:
                results.append(OptionScores({}, False, source=AnswerSource.TEXT, text=f"The answer is {picked}."))
                continue
            rest = math.log(0.1 / max(1, len(request.answers) - 1))
            results.append(OptionScores({a: (math.log(0.9) if a == picked else rest) for a in request.answers}))
        return results

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Scripted text: the picked answer of a prompt whose options are A-Z letters."""
        self.history.extend(requests)
        return [self.script(r.prompt, tuple(chr(c) for c in range(65, 91))) for r in requests]

    def close(self) -> None:
        """Nothing to release."""


class NamedFakeBackend(FakeBackend):
    """``--model fake:NAME``: the default script, for plumbing tests and benchmarks of the command line and the service.

    ``NAME`` may carry comma-separated settings: ``delay=S`` sleeps S seconds per call (a slow model),
    ``fail=P`` fails a share P of the requests, chosen by a hash of the prompt (the same ones in every
    run), as a per-request error. ``fake:x`` has neither.
    """

    def __init__(self, model: str = "fake") -> None:
        settings = dict(part.split("=", 1) for part in model.split(",") if "=" in part)
        self.delay = float(settings.get("delay", 0.0))
        self.fail = float(settings.get("fail", 0.0))
        super().__init__(fingerprint=f"fake:{model}" if self.fail else "fake")

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        if self.delay:
            time.sleep(self.delay)
        scores = super().score_options(requests)
        return [OptionScores({}, error="injected fault (fake:fail)") if _share(r.prompt) < self.fail else s for r, s in zip(requests, scores, strict=True)]


def _share(text: str) -> float:
    """A fixed number in [0, 1) for ``text``."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16) / 16**12
