"""Pure prompt rendering from the packaged templates (``prompts/templates/*.yaml``); each method names its own."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from string import Template

import yaml

from qa4re.prompts.options import mention
from qa4re.registry import DataRegistry
from qa4re.types import Option, RelationInstance


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """A prompt layout read from a versioned package file (``prompts/templates/*.yaml``)."""

    id: str
    instruction: str
    options_in: str  # "question": options inside each question block; "header": after the instruction
    option_line: Template
    question: Template


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """A prompt and the options whose answers the model chooses between."""

    text: str
    options: tuple[Option, ...]

    @property
    def answers(self) -> tuple[str, ...]:
        return tuple(o.letter for o in self.options)

    @property
    def letter_to_relation(self) -> dict[str, str]:
        return {o.letter: o.relation for o in self.options}


TEMPLATES = DataRegistry(
    "prompt template",
    "qa4re.templates",
    {name: f"qa4re.prompts:templates/{name}.yaml" for name in ("qa4re.v1", "vanilla.v1", "vanilla-temp.v1", "sure.v1")},
)
"""Prompt templates by versioned name (``qa4re.v1``): a YAML file inside a package; a method plug-in ships its own
through the entry-point group ``qa4re.templates`` (``shout.v1 = "my_package:templates/shout.v1.yaml"``)."""


@cache
def prompt_template(name: str) -> PromptTemplate:
    """The registered prompt template ``name`` (a versioned name, ``qa4re.v1``)."""
    data = yaml.safe_load(TEMPLATES.file(name).read_text(encoding="utf-8"))
    return PromptTemplate(data["id"], data["instruction"], data["options_in"], Template(data["option_line"]), Template(data["question"]))


def marked_sentence(instance: RelationInstance) -> str:
    """The sentence with the subject and object mentions wrapped in square brackets."""
    text, spans = instance.text, sorted([instance.subj, instance.obj], key=lambda e: e.start)
    out, cursor = [], 0
    for entity in spans:
        out += [text[cursor : entity.start], mention(text[entity.start : entity.end])]
        cursor = entity.end
    out.append(text[cursor:])
    return "".join(out)


def _option_lines(template: PromptTemplate, options: Sequence[Option]) -> str:
    return "\n".join(template.option_line.substitute(letter=o.letter, statement=o.statement, relation=o.relation, explanation=o.statement) for o in options)


def _question(template: PromptTemplate, instance: RelationInstance, options: Sequence[Option]) -> str:
    return template.question.substitute(
        marked_sentence=marked_sentence(instance),
        sentence=instance.text,
        subj=instance.subj_text,
        obj=instance.obj_text,
        options=_option_lines(template, options) if template.options_in == "question" else "",
    )


@dataclass(frozen=True, slots=True)
class Demonstration:
    """A solved example shown before the test question."""

    instance: RelationInstance
    options: tuple[Option, ...]
    answer: str


def render_prompt(
    template: PromptTemplate,
    instance: RelationInstance,
    options: tuple[Option, ...],
    demonstrations: Sequence[Demonstration] = (),
) -> RenderedPrompt:
    """Render the prompt of ``instance``.

    Layout: instruction (plus the label list for vanilla), a blank line, then the demonstrations
    (question block + `` <answer>``) and the test question, joined by blank lines.
    """
    header = template.instruction
    if template.options_in == "header":
        header += "\n" + _option_lines(template, options)
    blocks = [f"{_question(template, d.instance, d.options)} {d.answer}" for d in demonstrations]
    blocks.append(_question(template, instance, options))
    return RenderedPrompt(header + "\n\n" + "\n\n".join(blocks), options)


def select_demonstrations(
    pool: Mapping[str, Sequence[RelationInstance]], instance: RelationInstance, k: int, seed: int, shared: bool = False
) -> list[RelationInstance]:
    """Pick ``k`` demonstrations, type-matched when possible, seeded per instance.

    ``pool`` maps a type pair to training instances; the key ``"*"`` holds all of them. The
    random stream depends only on ``seed`` and the instance id, so the choice is the same in
    any run order (resumed runs included). With ``shared``, it depends on the type pair instead
    of the id: every instance of a type pair gets the same demonstrations (a prompt prefix that
    backends can compute once).
    """
    if k <= 0:
        return []
    rng = random.Random(f"{seed}:type:{instance.type_pair or '*'}" if shared else f"{seed}:{instance.id}")
    same = [d for d in pool.get(instance.type_pair or "*", ()) if d.id != instance.id]
    chosen = rng.sample(same, min(k, len(same)))
    if len(chosen) < k:
        taken = {d.id for d in chosen} | {instance.id}
        rest = [d for d in pool.get("*", ()) if d.id not in taken]
        chosen += rng.sample(rest, min(k - len(chosen), len(rest)))
    return chosen
