"""Prompts of instances, no model: candidates, options, demonstrations, rendered by the configured method."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qa4re.extract.config import ExtractorConfig, UnknownTypePair
from qa4re.extract.methods import PromptMethod, get_method
from qa4re.prompts.options import OptionOrder
from qa4re.prompts.render import Demonstration, RenderedPrompt, select_demonstrations
from qa4re.schemas.model import RelationSchema
from qa4re.types import AnswerSource, ErrorKind, ErrorRecord, Output, Prediction, RelationInstance


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    """The rendered prompt of one instance, ready for the backend."""

    instance: RelationInstance
    prompt: RenderedPrompt
    fallback: bool  # the type pair was not in the constraints; all relations are offered
    among: tuple[str, ...] | None = None  # the candidates of a tournament round (None: all)


InstanceView = Callable[[RelationInstance], RelationInstance]
"""How a variant shows an instance in its prompt (a debiaser's transform, e.g. the content-free stand-in)."""


def prompt_sha256(text: str) -> str:
    """Hash of a rendered prompt, recorded with each prediction."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def option_order(config: ExtractorConfig, instance: RelationInstance, rotation: int = 0) -> OptionOrder:
    """The option order of ``instance`` (the shuffle depends only on the seed and its id)."""
    return OptionOrder(config.na_first, f"{config.seed}:{instance.id}" if config.shuffle_options else None, rotation)


class PromptBuilder:
    """Builds the prompt of each instance: candidates, options, demonstrations. No model."""

    def __init__(
        self, schema: RelationSchema, config: ExtractorConfig, demonstrations: Iterable[RelationInstance] = (), method: PromptMethod | None = None
    ) -> None:
        self.schema = schema
        self.config = config
        self.method = method or get_method(config.method, config.own_options("method"))
        self._pool = self._demonstration_pool(demonstrations) if config.shots else {}

    def candidates(self, instance: RelationInstance) -> tuple[tuple[str, ...] | None, bool]:
        """Candidate relations of ``instance`` (None: no prompt by policy) and whether they are a fallback."""
        candidates = self.schema.candidates(instance.type_pair, self.config.constraints)
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
            options = self.method.options(self.schema, demo, candidates or (), option_order(self.config, demo))
            answer = next(o.letter for o in options if o.relation == demo.relation)
            demos.append(Demonstration(demo, options, answer))
        return demos

    def prepare(
        self, instance: RelationInstance, rotation: int = 0, view: InstanceView | None = None, among: tuple[str, ...] | None = None
    ) -> PreparedPrompt | Output:
        """The prompt of ``instance``, or its final output when no model call is needed.

        ``rotation`` cyclically shifts the options; ``view`` shows another instance in the prompt
        (same candidates, options order and demonstrations: e.g. a content-free stand-in);
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
                                  scoring=AnswerSource.RULE, candidates_fallback=True)  # fmt: skip
            message = f"type pair {instance.type_pair} is not in the schema's constraints (id {instance.id})"
            return ErrorRecord(instance.id, instance.source, None, "type", message, instance.relation, ErrorKind.DATA)
        if among is not None:
            candidates = tuple(c for c in candidates if c in among)
        shown = view(instance) if view is not None else instance
        options = self.method.options(schema, shown, candidates, option_order(self.config, instance, rotation))
        demonstrations = self._demonstrations(instance) if self._pool else ()
        return PreparedPrompt(instance, self.method.render(shown, options, demonstrations), fallback, among)

    def variant(self, prompt: PreparedPrompt, rotation: int = 0, view: InstanceView | None = None, among: tuple[str, ...] | None = None) -> PreparedPrompt:
        """Another prompt of an instance already prepared: shifted, shown through ``view``, or offering fewer candidates."""
        prepared = self.prepare(prompt.instance, rotation, view, prompt.among if among is None else among)
        assert isinstance(prepared, PreparedPrompt)  # the instance itself was prepared, so its variants are
        return prepared
