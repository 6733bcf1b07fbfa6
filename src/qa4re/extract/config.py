"""The settings of an :class:`~qa4re.extract.pipeline.Extractor`, each declared once (see :mod:`qa4re.fields`).

The command line's prompt options, an experiment grid's variant keys and the pipeline's cache key
are built from these fields. Methods, debiasers and selectors are names in their registries, so a
plug-in's name is as good as a built-in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from qa4re.backends.base import DEFAULT_SYSTEM_MESSAGE
from qa4re.errors import ConfigError
from qa4re.extract.registries import DEBIASERS, METHODS, SELECTORS
from qa4re.fields import declared, own_options, setting, validate
from qa4re.registry import Registry


class Scoring(str, Enum):
    """How the model's answer is read."""

    LOGPROBS = "logprobs"  # probability of every option from one forward pass
    GENERATE = "generate"  # greedy text, then the first standalone option letter


class UnknownTypePair(str, Enum):
    """What to do with a subject/object type pair that the constraints do not list."""

    ALL = "all"  # offer every relation of the schema (NA last)
    NA = "na"  # predict the NA relation without asking the model
    ERROR = "error"  # record the example as an error


@dataclass(frozen=True)
class ExtractorConfig:
    """Settings of an :class:`~qa4re.extract.pipeline.Extractor` (all have the paper's defaults)."""

    method: str = setting("qa4re", "Prompting method (the paper's QA4RE, its baselines, or a plug-in's).", choices=METHODS.names, spacy=True)
    method_options: str | None = setting(None, "Options a method declares itself (its Options class; plug-ins): KEY=VALUE, comma-separated.", spacy=True)
    shots: int = setting(0, "Demonstrations per prompt (type-matched, seeded).", minimum=0, grid=False)
    seed: int = setting(0, "Seed for sampling and demonstrations.", grid=False)
    scoring: Scoring = setting(Scoring.LOGPROBS, "logprobs: option probabilities; generate: parse the first standalone letter of greedy text.")
    constraints: bool = setting(True, "Apply the schema's type constraints.", flag="--constraints/--no-constraints", spacy=True)
    unknown_type_pair: UnknownTypePair = setting(
        UnknownTypePair.ALL, "A type pair absent from the constraints: offer all relations, predict NA, or record an error.", grid=False
    )
    system: str | None = setting(DEFAULT_SYSTEM_MESSAGE, "System message of chat models (the original QA4RE code's).", cli=False, grid=False)
    na_first: bool = setting(False, "Ablation: put the NA option first (the paper puts it last).", flag="--na-first/--na-last")
    shuffle_options: bool = setting(False, "Ablation: seeded random order of the candidate options per example.", flag="--shuffle-options")
    na_threshold: float | None = setting(None, "Predict NA when the best non-NA relation's probability is below this.", grid=False)
    shared_demonstrations: bool = setting(False, "One set of demonstrations per type pair (a reusable prefix).", flag="--shared-demonstrations")
    answer_prefix: str = setting(
        "", "Text the model's reply starts with before the letter (chat: prefilled assistant turn), e.g. 'Option:'. Default: none (the paper).", spacy=True
    )
    debias: str = setting(
        "none",
        "Position-bias removal (permute: average over --permutations cyclic shifts; pride: a prior from shifts of a few inputs).",
        choices=DEBIASERS.names, spacy=True
    )
    permutations: int = setting(4, "--debias permute: cyclic shifts of the options per example (each one model call).", minimum=1, spacy=True)
    prior_samples: int = setting(8, "--debias pride: inputs per option count whose cyclic shifts estimate the prior.", minimum=1, spacy=True)
    selector: str = setting(
        "auto",
        "Which candidates each prompt offers (auto: preselect, tournament or flat, from the two options below).",
        choices=SELECTORS.names, spacy=True
    )
    max_options: int | None = setting(
        None, "Large schemas: a prompt with more options becomes a tournament of rounds of at most this many (NA in each).", minimum=2, spacy=True
    )
    preselect: int | None = setting(
        None, "Large schemas: keep this many candidates, the likeliest by --preselect-by's scores (one extra prompt), then ask.", minimum=1, spacy=True
    )
    preselect_by: str = setting(
        "sure", "--preselect: the method whose answer scores rank the candidates (sure: their filled templates).", choices=METHODS.names, spacy=True
    )
    debias_options: str | None = setting(None, "Options a debiaser declares itself (its Options class; plug-ins): KEY=VALUE, comma-separated.", spacy=True)
    selector_options: str | None = setting(None, "Options a selector declares itself (its Options class; plug-ins): KEY=VALUE, comma-separated.", spacy=True)

    def __post_init__(self) -> None:
        validate(self)  # a misspelt method, debiaser or selector, or a value below its minimum, fails here
        if self.selector == "preselect" and not self.preselect:
            raise ConfigError("--selector preselect needs --preselect N (how many candidates to keep)")
        self.refuse_unused()

    def refuse_unused(self) -> None:
        """What the chosen method, debiaser and selector do not take is one line: their own options checked against
        their ``Options`` class, and a knob another one of its kind reads (``takes``), set away from its default."""
        for noun, (chosen, registry) in self._chosen().items():
            self.own_options(noun)
            takes = {name: getattr(registry.get(name), "takes", ()) for name in registry.names()}
            for d in declared(ExtractorConfig):
                takers = [name for name, fields in takes.items() if d.name in fields]
                if takers and d.name not in takes[chosen] and getattr(self, d.name) != d.default:
                    raise ConfigError(f"--{d.name.replace('_', '-')}: the {chosen} {noun} does not take this option "
                                      f"({', '.join(takers)} {'does' if len(takers) == 1 else 'do'})")  # fmt: skip

    def _chosen(self) -> dict[str, tuple[str, Registry[Any]]]:
        return {"method": (self.method, METHODS), "debiaser": (self.debias, DEBIASERS), "selector": (self.selector, SELECTORS)}

    def own_options(self, noun: str) -> Any:
        """The chosen method's, debiaser's or selector's own ``Options`` (``noun``: method, debiaser, selector), None where it declares none."""
        chosen, registry = self._chosen()[noun]
        return own_options(registry.get(chosen), getattr(self, OPTIONS_FIELD[noun]), option_flag(noun), f"the {chosen} {noun}")


# Where each kind of plug-in finds its own options (KEY=VALUE text, checked against its Options class).
OPTIONS_FIELD = {"method": "method_options", "debiaser": "debias_options", "selector": "selector_options"}


def option_flag(noun: str) -> str:
    """The command-line flag of a kind's own options (``--method-options``)."""
    return "--" + OPTIONS_FIELD[noun].replace("_", "-")
