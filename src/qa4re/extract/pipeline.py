"""The extraction pipeline: instances -> prompts -> backend -> predictions, streamed in order."""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from itertools import islice

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE, Backend, GenerateRequest, OptionScores, ScoreRequest
from qa4re.errors import BackendError
from qa4re.extract.debias import (
    CONTENT_FREE,
    Debias,
    PositionPriors,
    cyclic_shifts,
    divide_prior,
    letter_mass,
    permutation_average,
    position_prior,
    position_probabilities,
)
from qa4re.extract.decode import apply_na_threshold, best_by_relation, decide, parse_label, parse_letter, thresholded_relation
from qa4re.prompts.options import OptionOrder
from qa4re.prompts.render import Demonstration, Method, RenderedPrompt, build_options, render_prompt, select_demonstrations
from qa4re.schemas.model import RelationSchema, UnknownTypePair
from qa4re.types import Entity, ErrorRecord, Prediction, RelationInstance

NLI_THRESHOLD = 0.5  # Ask2Transformers' default negative_threshold: NA unless some relation's entailment reaches it
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
    na_first: bool = False  # ablation: NA option first
    shuffle_options: bool = False  # ablation: candidates in a seeded random order per example
    na_threshold: float | None = None  # predict NA when the best non-NA relation's probability is below this
    shared_demonstrations: bool = False  # the same demonstrations for every instance of a type pair (default: drawn per instance)
    answer_prefix: str = ""  # the start of the model's reply before its answer (chat: prefilled assistant turn)
    debias: Debias = Debias.NONE  # position-bias removal (logprobs scoring only)
    permutations: int = 4  # cyclic shifts per example for Debias.PERMUTE
    prior_samples: int = 8  # inputs per option count whose cyclic shifts estimate the PriDe prior
    max_options: int | None = None  # large schemas: more candidates than this go through a tournament of rounds of at most this many options
    preselect: int | None = None  # large schemas: keep this many candidates, ranked by their filled templates' likelihood (one prompt), then ask

    def option_order(self, instance: RelationInstance, rotation: int = 0) -> OptionOrder:
        """The option order of ``instance`` (the shuffle depends only on the seed and its id)."""
        return OptionOrder(self.na_first, f"{self.seed}:{instance.id}" if self.shuffle_options else None, rotation)


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    """The rendered prompt of one instance, ready for the backend."""

    instance: RelationInstance
    prompt: RenderedPrompt
    fallback: bool  # the type pair was not in the constraints; all relations are offered
    among: tuple[str, ...] | None = None  # the candidates of a tournament round (None: all)


def prompt_sha256(text: str) -> str:
    """Hash of a rendered prompt, recorded with each prediction."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PromptBuilder:
    """Builds the prompt of each instance: candidates, options, demonstrations. No model."""

    def __init__(self, schema: RelationSchema, config: ExtractorConfig, demonstrations: Iterable[RelationInstance] = ()) -> None:
        self.schema = schema
        self.config = config
        self._pool = self._demonstration_pool(demonstrations) if config.shots else {}

    def candidates(self, instance: RelationInstance) -> tuple[tuple[str, ...] | None, bool]:
        """Candidate relations of ``instance`` (None: no prompt by policy) and whether they are a fallback."""
        candidates = self.schema.candidates(instance.type_pair, self.config.use_constraints)
        if candidates is not None:
            return candidates, False
        if self.config.unknown_type_pair is UnknownTypePair.ALL:
            return self.schema.positive_relations, True
        return None, True

    def _demonstration_pool(self, instances: Iterable[RelationInstance]) -> dict[str, list[RelationInstance]]:
        pool: dict[str, list[RelationInstance]] = defaultdict(list)
        for instance in instances:
            candidates, fallback = self.candidates(instance)
            if candidates is None or fallback or instance.relation is None:
                continue
            if instance.relation in candidates or instance.relation == self.schema.na_relation:
                if instance.type_pair:
                    pool[instance.type_pair].append(instance)
                pool["*"].append(instance)
        return dict(pool)

    def _demonstrations(self, instance: RelationInstance) -> list[Demonstration]:
        demos = []
        for demo in select_demonstrations(self._pool, instance, self.config.shots, self.config.seed, self.config.shared_demonstrations):
            candidates, _ = self.candidates(demo)
            options = build_options(self.config.method, self.schema, demo, candidates or (), self.config.option_order(demo))
            answer = next(o.letter for o in options if o.relation == demo.relation)
            demos.append(Demonstration(demo, options, answer))
        return demos

    def prepare(
        self, instance: RelationInstance, rotation: int = 0, content_free: bool = False, among: tuple[str, ...] | None = None
    ) -> PreparedPrompt | Output:
        """The prompt of ``instance``, or its final output when no model call is needed.

        ``rotation`` cyclically shifts the options; ``content_free`` shows ``N/A`` for the sentence and
        both mentions (same candidates, options and demonstrations) to measure the answer prior;
        ``among`` offers only those of the candidates (a tournament round), NA always included.
        """
        schema = self.schema
        if instance.relation is not None and instance.relation not in schema.relations:
            message = f"unknown gold relation '{instance.relation}' for schema {schema.name} (id {instance.id})"
            return ErrorRecord(instance.id, instance.source, None, "relation", message)
        candidates, fallback = self.candidates(instance)
        if candidates is None:
            if self.config.unknown_type_pair is UnknownTypePair.NA:
                return Prediction(instance.id, instance.relation, schema.na_relation, 1.0, {}, {}, "", instance.subj_text, instance.obj_text,
                                  scoring="rule", candidates_fallback=True)  # fmt: skip
            message = f"type pair {instance.type_pair} is not in the schema's constraints (id {instance.id})"
            return ErrorRecord(instance.id, instance.source, None, "type", message, instance.relation)
        if among is not None:
            candidates = tuple(c for c in candidates if c in among)
        shown = content_free_instance(instance) if content_free else instance
        options = build_options(self.config.method, schema, shown, candidates, self.config.option_order(instance, rotation))
        demonstrations = self._demonstrations(instance) if self._pool else ()
        return PreparedPrompt(instance, render_prompt(self.config.method, shown, options, demonstrations), fallback, among)


def content_free_instance(instance: RelationInstance) -> RelationInstance:
    """``instance`` with ``N/A`` for its sentence and both mentions (types kept)."""
    gap = len(CONTENT_FREE) + 1
    subj, obj = Entity(0, len(CONTENT_FREE), instance.subj.type), Entity(gap, gap + len(CONTENT_FREE), instance.obj.type)
    return replace(instance, text=f"{CONTENT_FREE} {CONTENT_FREE}", subj=subj, obj=obj)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The prompts scored for one instance: its own (rotation 0) and the debiasing extras."""

    prompt: PreparedPrompt
    rotations: dict[int, PreparedPrompt]
    content_free: PreparedPrompt | None = None
    estimates_prior: bool = False


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
        # The pre-ranker scores every candidate's filled templates as SuRE does (no options shown, no demonstrations).
        self._ranker = PromptBuilder(schema, replace(self.config, method=Method.SURE, shots=0, na_first=False, shuffle_options=False))
        self.priors = PositionPriors(self.config.prior_samples)
        self._content_free: OrderedDict[str, list[float]] = OrderedDict()  # prompt text -> probabilities, bounded

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
        system = self.config.system
        try:
            if self.config.scoring is Scoring.LOGPROBS and self.backend.supports_logprobs:
                selected = self._preselected(pending) if self.config.preselect else list(pending)
                prompts = [p for p in selected if isinstance(p, PreparedPrompt)]
                size = self._round_size()
                scored = iter(self._score_large(prompts, size) if size and any(len(p.prompt.options) > size for p in prompts) else self._score(prompts))
                return [next(scored) if isinstance(p, PreparedPrompt) else p for p in selected]
            # Generation: asked for, or the only way a backend without log-probabilities answers.
            scoring = "generate" if self.config.scoring is Scoring.GENERATE else "text"
            max_tokens = 4 if self.config.method is Method.QA4RE else 32
            texts = self.backend.generate([GenerateRequest(p.prompt.text, max_tokens, ("\n",), system) for p in pending])
            return [self._from_text(p, t, scoring) for p, t in zip(pending, texts, strict=True)]
        except BackendError as exc:  # a failed batch becomes error records and the run goes on; a bug propagates
            if len(pending) > 1:
                # Retry one by one so a single bad example cannot take its batch down.
                return [out for p in pending for out in self._run([p])]
            p = pending[0]
            return [
                ErrorRecord(p.instance.id, p.instance.source, None, None, f"model call failed: {type(exc).__name__}: {exc}", p.instance.relation, kind="model")
            ]

    def _preselected(self, pending: Sequence[PreparedPrompt]) -> list[PreparedPrompt | Output]:
        """Large schemas: each prompt with more than ``preselect`` candidates becomes the prompt of its
        ``preselect`` likeliest, by the mean log-probability per token of their filled templates as a
        summary of the sentence (the SuRE prompt, one model call; a relation counts its best template).
        The kept candidates stay in schema order, so an option's place says nothing of its rank."""
        keep, na = self.config.preselect or 0, self.schema.na_relation
        large = [k for k, p in enumerate(pending) if len({o.relation for o in p.prompt.options} - {na}) > keep]
        ranked = [self._prepared(pending[k].instance, among=pending[k].among, builder=self._ranker) for k in large]
        scores = self.backend.score_options([ScoreRequest(r.prompt.text, r.prompt.answers, self.config.system, per_token=True) for r in ranked])
        selected: list[PreparedPrompt | Output] = list(pending)
        for k, r, s in zip(large, ranked, scores, strict=True):
            instance = pending[k].instance
            if s.error is not None:
                why = f"model call failed (pre-ranking): {s.error}"
                selected[k] = ErrorRecord(instance.id, instance.source, None, None, why, instance.relation, kind="model")
                continue
            best = best_by_relation(r.prompt.options, s.logprobs, skip=na)
            top = set(sorted(best, key=lambda relation: -best[relation])[:keep])
            selected[k] = self._prepared(instance, among=tuple(o.relation for o in pending[k].prompt.options if o.relation in top))
        return selected

    def _round_size(self) -> int | None:
        """The most options per prompt: ``max_options``, else what the backend can tell apart by letter (QA4RE only)."""
        if self.config.max_options:
            return self.config.max_options
        return self.backend.max_letter_options if self.config.method is Method.QA4RE else None

    def _score_large(self, pending: Sequence[PreparedPrompt], size: int) -> list[Output]:
        """A tournament for prompts with more than ``size`` options: the candidates in groups
        of ``size - 1`` (each round's prompts also offer NA), the groups' non-NA winners to
        the next round, until one prompt holds them all; its answer is the prediction. No non-NA
        winner anywhere: NA, as the first group answered it. All prompts of a round go to the
        backend together."""
        if size < 2:
            raise ValueError("max_options must be at least 2 (a candidate and NA)")
        na = self.schema.na_relation
        done: dict[int, Output] = {}
        current = {k: p for k, p in enumerate(pending) if len(p.prompt.options) <= size}
        alive = {k: tuple(o.relation for o in p.prompt.options if o.relation != na) for k, p in enumerate(pending) if k not in current}
        while alive:
            groups = [(k, c[i : i + size - 1]) for k, c in alive.items() for i in range(0, len(c), size - 1)]
            prompts = [self._prepared(pending[k].instance, among=group) for k, group in groups]
            winners: dict[int, list[str]] = {k: [] for k in alive}
            first: dict[int, Output] = {}
            for (k, _), output in zip(groups, self._score(prompts), strict=True):
                first.setdefault(k, output)
                if isinstance(output, ErrorRecord):
                    done[k] = output
                elif output.relation is not None and output.relation != na:
                    winners[k].append(output.relation)
            next_round: dict[int, tuple[str, ...]] = {}
            for k, won in winners.items():
                if k in done:
                    continue
                if not won:
                    done[k] = first[k]
                elif len(won) <= size - 1:
                    current[k] = self._prepared(pending[k].instance, among=tuple(won))
                else:
                    next_round[k] = tuple(won)
            alive = next_round
        if current:
            keys = list(current)
            done.update(zip(keys, self._score([current[k] for k in keys]), strict=True))
        return [done[k] for k in range(len(pending))]

    def _plan(self, pending: Sequence[PreparedPrompt]) -> list[_Plan]:
        """Which prompts each instance needs under the debiasing setting (PriDe: the first inputs of
        each option count, in stream order, estimate its prior from all their cyclic shifts)."""
        debias, plans = self.config.debias, []
        planned: defaultdict[int, int] = defaultdict(int)
        for p in pending:
            n = len(p.prompt.options)
            shifts = [0]
            estimates = debias is Debias.PRIDE and self.priors.count(n) + planned[n] < self.priors.samples and n > 1
            if estimates:
                planned[n] += 1
                shifts = cyclic_shifts(n, n)
            elif debias is Debias.PERMUTE:
                shifts = cyclic_shifts(n, self.config.permutations)
            rotations = {r: p if r == 0 else self._prepared(p.instance, rotation=r, among=p.among) for r in shifts}
            content_free = self._prepared(p.instance, content_free=True, among=p.among) if debias is Debias.CONTENT_FREE else None
            plans.append(_Plan(p, rotations, content_free, estimates))
        return plans

    def _prepared(
        self,
        instance: RelationInstance,
        rotation: int = 0,
        content_free: bool = False,
        among: tuple[str, ...] | None = None,
        builder: PromptBuilder | None = None,
    ) -> PreparedPrompt:
        prepared = (builder or self.prompts).prepare(instance, rotation, content_free, among)
        assert isinstance(prepared, PreparedPrompt)  # the instance itself was prepared, so its variants and rounds are
        return prepared

    def _request(self, p: PreparedPrompt) -> ScoreRequest:
        return ScoreRequest(p.prompt.text, p.prompt.answers, self.config.system, self.config.answer_prefix, self.config.method is Method.SURE)

    def _score(self, pending: Sequence[PreparedPrompt]) -> list[Output]:
        """Score every planned prompt in one backend call, then debias and decide per instance."""
        plans = self._plan(pending)
        prompts = [q for plan in plans for q in plan.rotations.values()]
        free = {q.prompt.text: q for plan in plans if (q := plan.content_free) is not None and q.prompt.text not in self._content_free}
        scores = self.backend.score_options([self._request(q) for q in [*prompts, *free.values()]])
        by_text = {q.prompt.text: s for q, s in zip([*prompts, *free.values()], scores, strict=True)}
        for text, q in free.items():
            if by_text[text].error is None:
                self._content_free[text] = position_probabilities(q.prompt.options, by_text[text].logprobs)
        while len(self._content_free) > 4096:
            self._content_free.popitem(last=False)
        shifted = [self._shifted(plan, by_text) for plan in plans]
        # PriDe priors first, so the instances after them in the same chunk are already debiased.
        for plan, by_position in zip(plans, shifted, strict=True):
            if plan.estimates_prior and not isinstance(by_position, str):
                self.priors.add(position_prior(by_position))
        return [self._from_scores(plan, by_text[plan.prompt.prompt.text], by_position) for plan, by_position in zip(plans, shifted, strict=True)]

    @staticmethod
    def _shifted(plan: _Plan, by_text: dict[str, OptionScores]) -> dict[int, list[float]] | str:
        """Option probabilities by position for each scored rotation of ``plan``, or why a call failed."""
        scores = {r: by_text[q.prompt.text] for r, q in plan.rotations.items()}
        failed = next((s.error for s in scores.values() if s.error is not None), None)
        if failed is not None:
            return f"model call failed: {failed}"
        return {r: position_probabilities(plan.rotations[r].prompt.options, s.logprobs) for r, s in scores.items()}

    def _debiased(self, plan: _Plan, by_position: dict[int, list[float]] | str) -> list[float] | str:
        """Probabilities of the options of ``plan.prompt`` by position, or why there are none."""
        options = plan.prompt.prompt.options
        if isinstance(by_position, str):
            return by_position
        if not any(by_position[0]):
            return "the backend could not score any option"
        if len(by_position) > 1:
            return permutation_average(by_position)
        if self.config.debias is Debias.PRIDE and len(options) > 1:
            return divide_prior(by_position[0], self.priors.get(len(options)))
        if plan.content_free is not None:
            prior = self._content_free.get(plan.content_free.prompt.text)
            if prior is None:
                return "model call failed on the content-free prompt"
            return divide_prior(by_position[0], prior)
        return by_position[0]

    def _base(self, p: PreparedPrompt) -> dict[str, object]:
        i = p.instance
        return {"id": i.id, "gold": i.relation, "letter_to_relation": p.prompt.letter_to_relation, "prompt_sha256": prompt_sha256(p.prompt.text),
                "subj": i.subj_text, "obj": i.obj_text, "candidates_fallback": p.fallback, "other_golds": i.other_golds}  # fmt: skip

    def _from_scores(self, plan: _Plan, scores: OptionScores, by_position: dict[int, list[float]] | str) -> Output:
        p = plan.prompt
        if scores.error is None and scores.source == "text":  # no log-probabilities: the answer is read from the model's text
            return self._from_text(p, scores.text or "", scoring="text")
        if self.config.method is Method.NLI and scores.error is None:
            return self._from_entailment(p, scores)
        probabilities = self._debiased(plan, by_position)
        if isinstance(probabilities, str):
            return ErrorRecord(p.instance.id, p.instance.source, None, None, probabilities, p.instance.relation, kind="model")
        options = p.prompt.options
        decision = decide(options, {o.letter: math.log(q) if q > 0 else -math.inf for o, q in zip(options, probabilities, strict=True)})
        if decision is None:
            return ErrorRecord(p.instance.id, p.instance.source, None, None, "the backend could not score any option", p.instance.relation, kind="model")
        if self.config.na_threshold is not None:
            decision = apply_na_threshold(decision, options, self.schema.na_relation, self.config.na_threshold)
        # Letter mass reads single answer tokens; SuRE's per-token summary scores are not a distribution over answers.
        mass = letter_mass(options, scores.logprobs) if scores.source == "logprobs" and self.config.method is not Method.SURE else None
        return Prediction(relation=decision.relation, confidence=decision.confidence, option_probabilities=decision.probabilities,
                          answer=decision.answer, scoring=scores.source, letter_mass=mass,
                          **self._base(p))  # type: ignore[arg-type]  # fmt: skip

    def _from_entailment(self, p: PreparedPrompt, scores: OptionScores) -> Prediction:
        """NLI: a relation's score is its best template's entailment probability; NA when no relation reaches
        the threshold (``na_threshold``, default 0.5 as Ask2Transformers' zero-shot setting)."""
        entailment = {o.letter: math.exp(scores.logprobs.get(o.letter, -math.inf)) for o in p.prompt.options}
        by_relation = best_by_relation(p.prompt.options, entailment)
        threshold = NLI_THRESHOLD if self.config.na_threshold is None else self.config.na_threshold
        relation = thresholded_relation(by_relation, self.schema.na_relation, threshold)
        answer = max(entailment, key=entailment.__getitem__) if relation != self.schema.na_relation else None
        confidence = by_relation[relation] if answer else 1.0 - max(by_relation.values(), default=0.0)
        return Prediction(relation=relation, confidence=confidence, option_probabilities=entailment, answer=answer, scoring="entailment",
                          **self._base(p))  # type: ignore[arg-type]  # fmt: skip

    def _from_text(self, p: PreparedPrompt, text: str, scoring: str = "generate") -> Output:
        parse = parse_letter if self.config.method is Method.QA4RE else parse_label
        option = parse(text, p.prompt.options)
        return Prediction(relation=option.relation if option else None, confidence=1.0 if option else 0.0, option_probabilities={},
                          answer=text, scoring=scoring, error=None if option else f"unparsable answer {text!r}",
                          **self._base(p))  # type: ignore[arg-type]  # fmt: skip
