"""Experiment grids as YAML files: datasets x variants x template sets x shots x models x seeds."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from qa4re.backends.settings import BackendSettings
from qa4re.datasets import DATASETS
from qa4re.errors import ConfigError, UnknownNameError
from qa4re.evaluation.run import runs_on
from qa4re.extract.debias import Debias
from qa4re.extract.pipeline import Scoring
from qa4re.prompts.render import Method
from qa4re.schemas.model import UnknownTypePair

VARIANT_KEYS = {
    "method": str, "constraints": bool, "na_first": bool, "shuffle_options": bool, "shared_demonstrations": bool, "na_threshold": str,
    "scoring": str, "answer_prefix": str, "debias": str, "permutations": int, "prior_samples": int,
    "max_options": int, "preselect": int,
}  # fmt: skip
VARIANT_MINIMUMS = {"permutations": 1, "prior_samples": 1, "max_options": 2, "preselect": 1}  # max_options: a candidate and NA
DEFAULT_TEMPLATES = "default"  # the schema's own default template set


@dataclass(frozen=True)
class Variant:
    """A named method setting: a prompting method plus ablation switches."""

    name: str
    method: Method
    constraints: bool = True
    na_first: bool = False
    shuffle_options: bool = False
    shared_demonstrations: bool = False
    calibrate_na_threshold: bool = False  # choose an NA threshold on the dataset's dev sample
    scoring: Scoring = Scoring.LOGPROBS
    answer_prefix: str = ""
    debias: Debias = Debias.NONE
    permutations: int = 4
    prior_samples: int = 8
    max_options: int | None = None  # tournament rounds of at most this many options
    preselect: int | None = None  # keep this many candidates, ranked by their filled templates' likelihood


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the grid and its fixed test (and dev) sample."""

    dataset: str
    data: Path
    split: str = "test"
    limit: int | None = None
    dev_split: str | None = None
    dev_limit: int | None = None
    template_sets: tuple[str, ...] = (DEFAULT_TEMPLATES,)
    schema: str | None = None
    unknown_type_pair: UnknownTypePair = UnknownTypePair.ALL


@dataclass(frozen=True)
class ModelSpec:
    """One model of the grid; ``name`` labels it in the report. The other fields are the
    :class:`~qa4re.backends.settings.BackendSettings` of the same names."""

    name: str
    model: str
    batch_size: int | None = None
    chat_template: bool | None = None
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    threads: int | None = None

    def settings(self, cache: Path | None) -> BackendSettings:
        """The backend settings of this model (``cache``: the grid's output cache)."""
        fields = {k: getattr(self, k) for k in MODEL_KEYS if k not in ("name", "model")}
        return BackendSettings(model=self.model, cache=cache, **fields)


# Keys of a model entry and their types; batch_size, device and dtype may also be set for every model at the top level.
MODEL_KEYS: dict[str, type] = {
    "name": str, "model": str, "batch_size": int, "chat_template": bool, "device": str, "dtype": str, "device_map": str, "threads": int,
}  # fmt: skip
MODEL_DEFAULT_KEYS = ("batch_size", "device", "dtype")


@dataclass(frozen=True)
class Cell:
    """One point of the grid: one ``qa4re evaluate`` run."""

    dataset: DatasetSpec
    model: ModelSpec
    variant: Variant
    templates: str
    shots: int
    seed: int

    @property
    def id(self) -> str:
        return f"{self.dataset.dataset}/{self.model.name}/{self.variant.name}/{self.templates}/{self.shots}-shot/seed-{self.seed}"


@dataclass(frozen=True)
class ExperimentConfig:
    """A parsed experiment file."""

    name: str
    source: Path
    datasets: tuple[DatasetSpec, ...]
    models: tuple[ModelSpec, ...]
    variants: tuple[Variant, ...]
    shots: tuple[int, ...] = (0,)
    seeds: tuple[int, ...] = (0,)
    sample_seed: int = 0
    cache: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    baseline: str = "qa4re"  # the variant every other variant is tested against

    def cells(self) -> Iterator[Cell]:
        """Every cell, models outermost (each model is loaded once). An NLI model (``nli:...``) runs the
        NLI variants only, and they run on NLI models only."""
        for model, dataset, variant in product(self.models, self.datasets, self.variants):
            if not runs_on(variant.method, model.model):
                continue
            for templates, shots, seed in product(dataset.template_sets, self.shots, self.seeds):
                yield Cell(dataset, model, variant, templates, shots, seed)


@cache
def builtin_variants() -> dict[str, dict[str, Any]]:
    """The packaged variants (``experiments/data/variants.yaml``)."""
    text = resources.files("qa4re.experiments").joinpath("data", "variants.yaml").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return data


class _Reader:
    """Typed access to the mapping of one config file; errors name the file and the key."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {message}")

    def get(self, data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str = "") -> Any:
        value = data.get(key, default)
        if value is not None and not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{where}{key}", f"expected {expected}, got {value!r}")
        return value

    def known(self, data: Mapping[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(data) - allowed)
        if extra:
            raise self.fail(f"{where}{extra[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def int_list(self, data: Mapping[str, Any], key: str, default: list[int]) -> tuple[int, ...]:
        values = self.get(data, key, list, default)
        if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values):
            raise self.fail(key, f"expected a non-empty list of integers >= 0, got {values!r}")
        return tuple(values)

    def path(self, value: str) -> Path:
        path = Path(os.path.expandvars(value)).expanduser()
        return path if path.is_absolute() else self.source.parent / path


def _variant(reader: _Reader, name: str, data: Any) -> Variant:
    where = f"variants.{name}."
    if not isinstance(data, Mapping):
        raise reader.fail(f"variants.{name}", "expected a mapping of settings")
    reader.known(data, set(VARIANT_KEYS), where)
    for key, kind in VARIANT_KEYS.items():
        reader.get(data, key, kind, None, where)
    for key, least in VARIANT_MINIMUMS.items():
        if key in data and data[key] < least:
            raise reader.fail(f"{where}{key}", f"must be at least {least}, got {data[key]}")
    try:
        method = Method(data.get("method", "qa4re"))
    except ValueError:
        raise reader.fail(f"{where}method", f"unknown method {data.get('method')!r} ({', '.join(m.value for m in Method)})") from None
    threshold = data.get("na_threshold")
    if threshold not in (None, "dev"):
        raise reader.fail(f"{where}na_threshold", "only 'dev' is allowed: the threshold is chosen on the dev sample, never on test")
    choices: dict[str, type[Scoring] | type[Debias]] = {"scoring": Scoring, "debias": Debias}
    chosen: dict[str, Any] = {}
    for key, kind in choices.items():
        values = [member.value for member in kind]
        try:
            chosen[key] = kind(data.get(key, values[0]))
        except ValueError:
            raise reader.fail(f"{where}{key}", str(UnknownNameError(key, str(data.get(key)), values))) from None
    return Variant(
        name, method, data.get("constraints", True), data.get("na_first", False), data.get("shuffle_options", False),
        data.get("shared_demonstrations", False), threshold == "dev", chosen["scoring"], data.get("answer_prefix", ""), chosen["debias"],
        data.get("permutations", 4), data.get("prior_samples", 8), data.get("max_options"), data.get("preselect"),
    )  # fmt: skip


def _dataset(reader: _Reader, index: int, data: Any) -> DatasetSpec:
    where = f"datasets[{index}]."
    if not isinstance(data, Mapping):
        raise reader.fail(f"datasets[{index}]", "expected a mapping with dataset and data")
    reader.known(data, {"dataset", "data", "split", "limit", "dev_split", "dev_limit", "template_sets", "schema", "unknown_type_pair"}, where)
    name = reader.get(data, "dataset", str, None, where)
    if name not in DATASETS:
        raise reader.fail(f"{where}dataset", str(UnknownNameError("dataset", str(name), DATASETS)))
    folder = reader.get(data, "data", str, None, where)
    if folder is None:
        raise reader.fail(f"{where}data", "required: the dataset file or folder (relative paths are relative to this file)")
    sets = reader.get(data, "template_sets", list, [DEFAULT_TEMPLATES], where)
    if not sets or any(not isinstance(s, str) for s in sets):
        raise reader.fail(f"{where}template_sets", "expected a non-empty list of template set names")
    unknown = reader.get(data, "unknown_type_pair", str, UnknownTypePair.ALL.value, where)
    if unknown not in {u.value for u in UnknownTypePair}:
        policies = [u.value for u in UnknownTypePair]
        raise reader.fail(f"{where}unknown_type_pair", str(UnknownNameError("unknown_type_pair policy", unknown, policies)))
    return DatasetSpec(
        dataset=name, data=reader.path(folder), unknown_type_pair=UnknownTypePair(unknown), split=reader.get(data, "split", str, "test", where),
        limit=reader.get(data, "limit", int, None, where),
        dev_split=reader.get(data, "dev_split", str, None, where), dev_limit=reader.get(data, "dev_limit", int, None, where),
        template_sets=tuple(sets), schema=reader.get(data, "schema", str, None, where),
    )  # fmt: skip


def _model(reader: _Reader, index: int, data: Any, defaults: Mapping[str, Any]) -> ModelSpec:
    where = f"models[{index}]."
    if isinstance(data, str):
        data = {"model": data}
    if not isinstance(data, Mapping):
        raise reader.fail(f"models[{index}]", "expected a model name or a mapping with name and model")
    reader.known(data, set(MODEL_KEYS), where)
    values = {key: reader.get(data, key, kind, defaults.get(key), where) for key, kind in MODEL_KEYS.items()}
    if values["model"] is None:
        raise reader.fail(f"{where}model", "required")
    values["name"] = values["name"] or values["model"]
    values = {k: v for k, v in values.items() if v is not None}
    try:
        spec = ModelSpec(**values)
        spec.settings(None)  # a misspelt device, dtype or device map names its key here
    except ConfigError as exc:
        raise reader.fail(f"{where.rstrip('.')}", str(exc)) from None
    return spec


def load_experiment(path: Path) -> ExperimentConfig:
    """Read and validate an experiment file."""
    reader = _Reader(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    top_keys = {"name", "description", "datasets", "models", "methods", "variants", "shots", "seeds", "sample_seed", "cache", "baseline", *MODEL_DEFAULT_KEYS}
    reader.known(data, top_keys, "")
    variants = dict(builtin_variants())
    variants.update(reader.get(data, "variants", Mapping, {}))
    methods = reader.get(data, "methods", list, ["qa4re", "vanilla"])
    for name in methods:
        if name not in variants:
            raise reader.fail("methods", str(UnknownNameError("method variant", str(name), variants)))
    baseline = reader.get(data, "baseline", str, "qa4re")
    if "baseline" in data and baseline not in methods:
        raise reader.fail("baseline", f"'{baseline}' is not one of the methods ({', '.join(methods)})")
    datasets = reader.get(data, "datasets", list, None)
    if not datasets:
        raise reader.fail("datasets", "required: a non-empty list")
    model_defaults = {key: reader.get(data, key, MODEL_KEYS[key], None) for key in MODEL_DEFAULT_KEYS}
    cache_path = reader.get(data, "cache", str, None)
    return ExperimentConfig(
        name=reader.get(data, "name", str, path.stem),
        source=path,
        datasets=tuple(_dataset(reader, i, d) for i, d in enumerate(datasets)),
        models=tuple(_model(reader, i, m, model_defaults) for i, m in enumerate(reader.get(data, "models", list, ["default"]))),
        variants=tuple(_variant(reader, name, variants[name]) for name in methods),
        shots=reader.int_list(data, "shots", [0]),
        seeds=reader.int_list(data, "seeds", [0]),
        sample_seed=reader.get(data, "sample_seed", int, 0),
        cache=reader.path(cache_path) if cache_path else None,
        raw=data,
        baseline=baseline,
    )
