"""The extraction pipeline: instances -> prompts -> backend -> predictions, streamed in order.

The :class:`Extractor` batches, calls the backend and keeps output order. What the prompts say is
the method's (:mod:`qa4re.extract.methods`), which extra prompts are scored and how their scores
combine is the debiaser's (:mod:`qa4re.extract.debiasers`), which candidates each prompt offers is
the selector's (:mod:`qa4re.extract.selectors`); each is found by name in its registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from qa4re.backends.base import Backend, Capability, GenerateRequest, OptionScores
from qa4re.errors import BackendError, ConfigError
from qa4re.extract.builder import PreparedPrompt, PromptBuilder, prompt_sha256
from qa4re.extract.config import ExtractorConfig, Scoring
from qa4re.extract.debiasers import debiaser_class
from qa4re.extract.debiasers.base import ByPosition, Debiaser, Plan
from qa4re.extract.selectors import selector_class
from qa4re.extract.selectors.base import Round, Selector
from qa4re.prompts.decode import position_probabilities
from qa4re.schemas.model import RelationSchema
from qa4re.types import AnswerSource, ErrorKind, ErrorRecord, Item, Output, Prediction, RelationInstance

__all__ = ["Extractor", "ExtractorConfig", "Item", "Output", "PreparedPrompt", "PromptBuilder", "Scoring", "prompt_sha256"]


SCORES = frozenset({Capability.LOGPROBS, Capability.ENTAILMENT})  # a backend with either answers score_options


def check_runs_on(method_name: str, needs: frozenset[Capability], capabilities: frozenset[Capability]) -> None:
    """Refuse a method on a backend that has none of the capabilities it needs."""
    if not needs & capabilities:
        wanted = " or ".join(sorted(c.value for c in needs))
        has = ", ".join(sorted(c.value for c in capabilities)) or "nothing"
        hint = " (an NLI model: --model nli:FOLDER_OR_HUB_ID)" if Capability.ENTAILMENT in needs else ""
        raise ConfigError(f"--method {method_name} needs a backend that scores {wanted}{hint}; this one offers {has}")


class Extractor:
    """Turns relation instances into predictions with one backend and one schema.

    Every input item yields exactly one output, in input order: a :class:`Prediction`, or an
    :class:`ErrorRecord` for invalid input or a failed model call.
    """

    def __init__(
        self,
        schema: RelationSchema,
        backend: Backend,
        config: ExtractorConfig | None = None,
        demonstrations: Iterable[RelationInstance] = (),
    ) -> None:
        self.schema = schema
        self.backend = backend
        self.config = config or ExtractorConfig()
        self.prompts = PromptBuilder(schema, self.config, demonstrations)
        self.method = self.prompts.method
        check_runs_on(self.config.method, self.method.needs, backend.capabilities)
        if not self.method.debiasable and self.config.debias != "none":
            raise ConfigError(f"--method {self.config.method} gives independent scores, not a choice among options; it takes no --debias")
        self.debiaser: Debiaser = debiaser_class(self.config.debias)(self.config)
        self.selector: Selector = selector_class(self.config.selector)(self.config.own_options("selector"))

    def predict(self, items: Iterable[Item], chunk_size: int | None = None) -> Iterator[Output]:
        """Stream one output per item, in order; memory stays bounded by ``chunk_size``."""
        size = chunk_size or self.backend.max_batch_size * 4
        iterator = iter(items)
        while chunk := list(islice(iterator, size)):
            yield from self._predict_chunk(chunk)

    def _predict_chunk(self, chunk: Sequence[Item]) -> list[Output]:
        prepared = [item if isinstance(item, ErrorRecord) else self.prompts.prepare(item) for item in chunk]
        pending = [p for p in prepared if isinstance(p, PreparedPrompt)]
        decided = dict(zip(map(id, pending), self._run(pending), strict=True))
        return [decided[id(p)] if isinstance(p, PreparedPrompt) else p for p in prepared]

    def _run(self, pending: Sequence[PreparedPrompt]) -> list[Output]:
        if not pending:
            return []
        try:
            if self.config.scoring is Scoring.LOGPROBS and SCORES & self.backend.capabilities:
                return self.selector.select(pending, self._round())
            # Generation: asked for, or the only way a backend without log-probabilities answers.
            scoring = AnswerSource.GENERATE if self.config.scoring is Scoring.GENERATE else AnswerSource.TEXT
            requests = [GenerateRequest(p.prompt.text, self.method.max_new_tokens, ("\n",), self.config.system) for p in pending]
            return [self._from_text(p, t, scoring) for p, t in zip(pending, self.backend.generate(requests), strict=True)]
        except BackendError as exc:  # a failed batch becomes error records and the run goes on; a bug propagates
            if len(pending) > 1:
                # Retry one by one so a single bad example cannot take its batch down.
                return [out for p in pending for out in self._run([p])]
            p = pending[0]
            return [self._failed(p, f"model call failed: {type(exc).__name__}: {exc}")]

    # -- the Round a selector works through -------------------------------------------------

    def _round(self) -> Round:
        # The most options per prompt: max_options, else what the backend can tell apart by letter (letter methods only).
        size = self.config.max_options or (self.backend.max_letter_options if self.method.letters else None)
        return Round(self.config, self.schema, size, self._ask, self._narrowed, self.backend.score_options)

    def _narrowed(self, prompt: PreparedPrompt, among: tuple[str, ...]) -> PreparedPrompt:
        return self.prompts.variant(prompt, among=among)

    def _ask(self, pending: Sequence[PreparedPrompt]) -> list[Output]:
        """Score every planned prompt in one backend call, then debias and decide per instance."""
        plans = self.debiaser.plan(pending, self.prompts.variant)
        prompts = [q for plan in plans for q in plan.rotations.values()]
        extras = self.debiaser.extras(plans)
        asked = [*prompts, *extras]
        scores = self.backend.score_options([self.method.request(q.prompt, self.config.system, self.config.answer_prefix) for q in asked])
        by_text = {q.prompt.text: s for q, s in zip(asked, scores, strict=True)}
        shifted = [self._shifted(plan, by_text) for plan in plans]
        extra = {q.prompt.text: self._probabilities(q, by_text[q.prompt.text]) for q in extras}
        # Learnt first (PriDe's priors), so the instances after them in the same batch are already debiased.
        self.debiaser.learn(plans, shifted, extra)
        return [self._from_scores(plan, by_text[plan.prompt.prompt.text], by_position) for plan, by_position in zip(plans, shifted, strict=True)]

    # -- decoding ----------------------------------------------------------------------------

    def _probabilities(self, q: PreparedPrompt, scores: OptionScores) -> list[float] | str:
        if scores.error is not None:
            return f"model call failed: {scores.error}"
        return position_probabilities(q.prompt.options, self.method.answer_scores(scores))

    def _shifted(self, plan: Plan, by_text: dict[str, OptionScores]) -> ByPosition | str:
        """Option probabilities by position for each scored rotation of ``plan``, or why a call failed."""
        scores = {r: by_text[q.prompt.text] for r, q in plan.rotations.items()}
        failed = next((s.error for s in scores.values() if s.error is not None), None)
        if failed is not None:
            return f"model call failed: {failed}"
        return {r: position_probabilities(plan.rotations[r].prompt.options, self.method.answer_scores(s)) for r, s in scores.items()}

    def _from_scores(self, plan: Plan, scores: OptionScores, by_position: ByPosition | str) -> Output:
        p = plan.prompt
        if scores.error is None and scores.source is AnswerSource.TEXT:  # no log-probabilities: the answer is read from the model's text
            return self._from_text(p, scores.text or "", AnswerSource.TEXT)
        probabilities: list[float] = []
        if self.method.debiasable or scores.error is not None:
            combined = by_position if isinstance(by_position, str) else self._debiased(plan, by_position)
            if isinstance(combined, str):
                return self._failed(p, combined)
            probabilities = combined
        verdict = self.method.decide(p.prompt.options, probabilities, scores, self.schema.na_relation, self.config.na_threshold)
        if verdict is None:
            return self._failed(p, "the backend could not score any option")
        return Prediction(relation=verdict.relation, confidence=verdict.confidence, option_probabilities=verdict.option_probabilities,
                          answer=verdict.answer, scoring=verdict.scoring, letter_mass=verdict.letter_mass, **self._base(p))  # type: ignore[arg-type]  # fmt: skip

    def _debiased(self, plan: Plan, by_position: ByPosition) -> list[float] | str:
        if not any(by_position[0]):
            return "the backend could not score any option"
        return self.debiaser.combine(plan, by_position)

    def _failed(self, p: PreparedPrompt, message: str) -> ErrorRecord:
        i = p.instance
        return ErrorRecord(i.id, i.source, None, None, message, i.relation, kind=ErrorKind.MODEL)

    def _base(self, p: PreparedPrompt) -> dict[str, object]:
        i = p.instance
        return {"id": i.id, "gold": i.relation, "letter_to_relation": p.prompt.letter_to_relation, "prompt_sha256": prompt_sha256(p.prompt.text),
                "subj": i.subj_text, "obj": i.obj_text, "candidates_fallback": p.fallback, "other_golds": i.other_golds}  # fmt: skip

    def _from_text(self, p: PreparedPrompt, text: str, scoring: AnswerSource) -> Output:
        option = self.method.parse(text, p.prompt.options)
        return Prediction(relation=option.relation if option else None, confidence=1.0 if option else 0.0, option_probabilities={},
                          answer=text, scoring=scoring, error=None if option else f"unparsable answer {text!r}",
                          **self._base(p))  # type: ignore[arg-type]  # fmt: skip
