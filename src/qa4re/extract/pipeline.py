"""The extraction pipeline: instances -> prompts -> backend -> predictions, streamed in order."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import islice

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, Backend, GenerateRequest, ScoreRequest
from qa4re.extract.decode import decide, parse_label, parse_letter
from qa4re.prompts.render import Demonstration, Method, RenderedPrompt, build_options, render_prompt, select_demonstrations
from qa4re.schemas.model import RelationSchema, UnknownTypePair
from qa4re.types import ErrorRecord, Prediction, RelationInstance

Item = RelationInstance | ErrorRecord
Output = Prediction | ErrorRecord


class Scoring(str, Enum):
    """How the model's answer is read."""

    LOGPROBS = "logprobs"  # probability of every option from one forward pass
    GENERATE = "generate"  # greedy text, then the first standalone option letter


@dataclass(frozen=True)
class ExtractorConfig:
    """Settings of an :class:`Extractor` (all have the paper's defaults)."""

    method: Method = Method.QA4RE
    shots: int = 0
    seed: int = 0
    use_constraints: bool = True
    unknown_type_pair: UnknownTypePair = UnknownTypePair.ALL
    scoring: Scoring = Scoring.LOGPROBS
    system: str | None = DEFAULT_SYSTEM_MESSAGE


@dataclass(frozen=True, slots=True)
class _Prepared:
    instance: RelationInstance
    prompt: RenderedPrompt
    fallback: bool


def prompt_sha256(text: str) -> str:
    """Hash of a rendered prompt, recorded with each prediction."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
        self._pool = self._demonstration_pool(demonstrations) if self.config.shots else {}

    def _candidates(self, instance: RelationInstance) -> tuple[tuple[str, ...] | None, bool]:
        candidates = self.schema.candidates(instance.type_pair, self.config.use_constraints)
        if candidates is not None:
            return candidates, False
        if self.config.unknown_type_pair is UnknownTypePair.ALL:
            return self.schema.positive_relations, True
        return None, True

    def _demonstration_pool(self, instances: Iterable[RelationInstance]) -> dict[str, list[RelationInstance]]:
        pool: dict[str, list[RelationInstance]] = defaultdict(list)
        for instance in instances:
            candidates, fallback = self._candidates(instance)
            if candidates is None or fallback or instance.relation is None:
                continue
            if instance.relation in candidates or instance.relation == self.schema.na_relation:
                pool[instance.type_pair or "*"].append(instance)
                pool["*"].append(instance)
        return dict(pool)

    def _demonstrations(self, instance: RelationInstance) -> list[Demonstration]:
        demos = []
        for demo in select_demonstrations(self._pool, instance, self.config.shots, self.config.seed):
            candidates, _ = self._candidates(demo)
            options = build_options(self.config.method, self.schema, demo, candidates or ())
            answer = next(o.letter for o in options if o.relation == demo.relation)
            demos.append(Demonstration(demo, options, answer))
        return demos

    def prepare(self, instance: RelationInstance) -> _Prepared | Output:
        """The prompt of ``instance``, or its final output when no model call is needed."""
        if instance.relation is not None and instance.relation not in self.schema.relations:
            return ErrorRecord(instance.id, instance.source, None, "relation", f"unknown gold relation '{instance.relation}' for schema {self.schema.name} (id {instance.id})")
        candidates, fallback = self._candidates(instance)
        if candidates is None:
            if self.config.unknown_type_pair is UnknownTypePair.NA:
                na = self.schema.na_relation
                return Prediction(instance.id, instance.relation, na, 1.0, {}, {}, "", instance.subj_text, instance.obj_text, scoring="rule", candidates_fallback=True)
            return ErrorRecord(instance.id, instance.source, None, "type", f"type pair {instance.type_pair} is not in the schema's constraints (id {instance.id})", instance.relation)
        options = build_options(self.config.method, self.schema, instance, candidates)
        prompt = render_prompt(self.config.method, instance, options, self._demonstrations(instance) if self._pool else ())
        return _Prepared(instance, prompt, fallback)

    def predict(self, items: Iterable[Item], chunk_size: int | None = None) -> Iterator[Output]:
        """Stream one output per item, in order; memory stays bounded by ``chunk_size``."""
        size = chunk_size or self.backend.max_batch_size * 4
        iterator = iter(items)
        while chunk := list(islice(iterator, size)):
            yield from self._predict_chunk(chunk)

    def _predict_chunk(self, chunk: Sequence[Item]) -> list[Output]:
        prepared = [item if isinstance(item, ErrorRecord) else self.prepare(item) for item in chunk]
        pending = [p for p in prepared if isinstance(p, _Prepared)]
        decided = dict(zip(map(id, pending), self._run(pending), strict=True))
        return [decided[id(p)] if isinstance(p, _Prepared) else p for p in prepared]

    def _run(self, pending: Sequence[_Prepared]) -> list[Output]:
        if not pending:
            return []
        system = self.config.system
        try:
            if self.config.scoring is Scoring.LOGPROBS:
                scores = self.backend.score_options([ScoreRequest(p.prompt.text, p.prompt.answers, system) for p in pending])
                return [self._from_scores(p, s.logprobs) for p, s in zip(pending, scores, strict=True)]
            max_tokens = 4 if self.config.method is Method.QA4RE else 32
            texts = self.backend.generate([GenerateRequest(p.prompt.text, max_tokens, ("\n",), system) for p in pending])
            return [self._from_text(p, t) for p, t in zip(pending, texts, strict=True)]
        except Exception as exc:  # noqa: BLE001 - a failed batch becomes error records, the run goes on
            if len(pending) > 1:
                # Retry one by one so a single bad example cannot take its batch down.
                return [out for p in pending for out in self._run([p])]
            p = pending[0]
            return [ErrorRecord(p.instance.id, p.instance.source, None, None, f"model call failed: {type(exc).__name__}: {exc}", p.instance.relation, kind="model")]

    def _base(self, p: _Prepared) -> dict[str, object]:
        i = p.instance
        return {"id": i.id, "gold": i.relation, "letter_to_relation": p.prompt.letter_to_relation, "prompt_sha256": prompt_sha256(p.prompt.text),
                "subj": i.subj_text, "obj": i.obj_text, "candidates_fallback": p.fallback}  # fmt: skip

    def _from_scores(self, p: _Prepared, logprobs: object) -> Output:
        decision = decide(p.prompt.options, logprobs)  # type: ignore[arg-type]
        if decision is None:
            return ErrorRecord(p.instance.id, p.instance.source, None, None, "the backend could not score any option", p.instance.relation, kind="model")
        return Prediction(relation=decision.relation, confidence=decision.confidence, option_probabilities=decision.probabilities,
                          answer=decision.answer, **self._base(p))  # type: ignore[arg-type]  # fmt: skip

    def _from_text(self, p: _Prepared, text: str) -> Output:
        parse = parse_letter if self.config.method is Method.QA4RE else parse_label
        option = parse(text, p.prompt.options)
        return Prediction(relation=option.relation if option else None, confidence=1.0 if option else 0.0, option_probabilities={},
                          answer=text, scoring="generate", error=None if option else f"unparsable answer {text!r}",
                          **self._base(p))  # type: ignore[arg-type]  # fmt: skip
