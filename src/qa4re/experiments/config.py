"""Experiment grids as YAML files: datasets x variants x template sets x shots x models x seeds."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from qa4re.backends.registry import backend_class
from qa4re.backends.settings import PIPELINE_SETTINGS, BackendSettings
from qa4re.datasets import DATASETS
from qa4re.errors import ConfigError, Qa4reError, UnknownNameError
from qa4re.evaluation.run import runs_on
from qa4re.extract.config import ExtractorConfig, UnknownTypePair
from qa4re.fields import checked, field_names

DEFAULT_TEMPLATES = "default"  # the schema's own default template set
# A variant's keys: the prompt settings a grid may set (shots, seeds, unknown_type_pair are axes or dataset keys).
VARIANT_KEYS = (*field_names(ExtractorConfig, lambda s: s.grid), "na_threshold")


@dataclass(frozen=True)
class Variant:
    """A named method setting: overrides of the :class:`~qa4re.extract.config.ExtractorConfig` defaults."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()
    calibrate_na_threshold: bool = False  # choose an NA threshold on the dataset's dev sample

    @property
    def method(self) -> str:
        return str(dict(self.settings).get("method", "qa4re"))

    def config(self, **cell: Any) -> ExtractorConfig:
        """The extractor settings of this variant in one cell (``cell``: shots, seed, unknown_type_pair, na_threshold)."""
        return ExtractorConfig(**dict(self.settings), **cell)


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
    """One model of the grid; ``name`` labels it in the report, ``backend`` is how it loads (without the cache)."""

    name: str
    backend: BackendSettings

    @property
    def model(self) -> str:
        return self.backend.model

    def settings(self, cache: Path | None) -> BackendSettings:
        """The backend settings of this model (``cache``: the grid's output cache)."""
        return replace(self.backend, cache=cache)


# Keys of a model entry: a name and the backend settings a grid may set; these may also be set for every model at the top level.
MODEL_KEYS = ("name", *field_names(BackendSettings, lambda s: s.grid))
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


def _variant(reader: _Reader, index: int, data: Any, packaged: Mapping[str, Any]) -> Variant:
    """A list entry of ``variants:``: a packaged variant's name, or a mapping of a name and its settings."""
    where = f"variants[{index}]"
    if isinstance(data, str):
        if data not in packaged:
            raise reader.fail(where, str(UnknownNameError("variant", data, packaged)))
        name, data = data, packaged[data]
    elif isinstance(data, Mapping) and isinstance(data.get("name"), str):
        name, data = data["name"], {k: v for k, v in data.items() if k != "name"}
    else:
        raise reader.fail(where, "expected a packaged variant's name, or a mapping with a name and its settings")
    threshold = data.get("na_threshold")
    if threshold not in (None, "dev"):
        raise reader.fail(f"{where}.na_threshold", "only 'dev' is allowed: the threshold is chosen on the dev sample, never on test")
    settings = checked(ExtractorConfig, {k: v for k, v in data.items() if k != "na_threshold"}, f"{reader.source}: {where}.", VARIANT_KEYS)
    try:
        Variant(name, tuple(settings.items())).config()  # settings that clash (a misspelt plug-in name) fail at load, not mid-grid
    except Qa4reError as exc:
        raise reader.fail(where, str(exc)) from None
    return Variant(name, tuple(settings.items()), threshold == "dev")


def _dataset(reader: _Reader, index: int, data: Any) -> DatasetSpec:
    where = f"datasets[{index}]."
    if not isinstance(data, Mapping):
        raise reader.fail(f"datasets[{index}]", "expected a mapping with dataset and data")
    reader.known(data, {"dataset", "data", "split", "limit", "dev_split", "dev_limit", "template_sets", "schema", "unknown_type_pair"}, where)
    name = reader.get(data, "dataset", str, None, where)
    if name not in DATASETS:
        raise reader.fail(f"{where}dataset", str(UnknownNameError("dataset", str(name), DATASETS.names())))
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
        template_sets=tuple(sets), schema=_schema_ref(reader, reader.get(data, "schema", str, None, where)),
    )  # fmt: skip


def _schema_ref(reader: _Reader, schema: str | None) -> str | None:
    """A built-in schema's name as it is; a schema file relative to the grid file, like every other path in it."""
    if schema is None or "/" not in schema and not schema.endswith((".yaml", ".yml", ".json")):
        return schema
    return str(reader.path(schema))


def _taken(model: Any) -> set[str]:
    """The settings the backend of ``model`` takes (all, where the name is not one: BackendSettings says why)."""
    try:
        return set(getattr(backend_class(model), "settings", ())) | PIPELINE_SETTINGS
    except (Qa4reError, TypeError):
        return set(MODEL_DEFAULT_KEYS)


def _model(reader: _Reader, index: int, data: Any, defaults: Mapping[str, Any]) -> ModelSpec:
    where = f"models[{index}]"
    if isinstance(data, str):
        data = {"model": data}
    if not isinstance(data, Mapping):
        raise reader.fail(where, "expected a model name or a mapping with name and model")
    if "model" not in data:
        raise reader.fail(f"{where}.model", "required")
    defaults = {k: v for k, v in defaults.items() if k in _taken(data["model"])}  # a served model has no dtype
    values = checked(BackendSettings, {**defaults, **{k: v for k, v in data.items() if k != "name"}}, f"{reader.source}: {where}.", MODEL_KEYS[1:])
    name = reader.get(data, "name", str, None, f"{where}.") or values["model"]
    try:
        return ModelSpec(name, BackendSettings(**values))
    except Qa4reError as exc:  # a misspelt device, dtype, device map or backend prefix
        raise reader.fail(where, str(exc)) from None


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
    top_keys = {"name", "description", "datasets", "models", "variants", "shots", "seeds", "sample_seed", "cache", "baseline", *MODEL_DEFAULT_KEYS}
    if "methods" in data:
        raise reader.fail("methods", "renamed: list the variants under variants: (a packaged name, or {name: ..., <setting>: ...} for a new one)")
    reader.known(data, top_keys, "")
    entries = reader.get(data, "variants", list, ["qa4re", "vanilla"])
    variants = tuple(_variant(reader, i, entry, builtin_variants()) for i, entry in enumerate(entries))
    names = [v.name for v in variants]
    baseline = reader.get(data, "baseline", str, "qa4re")
    if "baseline" in data and baseline not in names:
        raise reader.fail("baseline", f"'{baseline}' is not one of the variants ({', '.join(names)})")
    datasets = reader.get(data, "datasets", list, None)
    if not datasets:
        raise reader.fail("datasets", "required: a non-empty list")
    model_defaults = {key: data[key] for key in MODEL_DEFAULT_KEYS if key in data}
    cache_path = reader.get(data, "cache", str, None)
    return ExperimentConfig(
        name=reader.get(data, "name", str, path.stem),
        source=path,
        datasets=tuple(_dataset(reader, i, d) for i, d in enumerate(datasets)),
        models=tuple(_model(reader, i, m, model_defaults) for i, m in enumerate(reader.get(data, "models", list, ["default"]))),
        variants=variants,
        shots=reader.int_list(data, "shots", [0]),
        seeds=reader.int_list(data, "seeds", [0]),
        sample_seed=reader.get(data, "sample_seed", int, 0),
        cache=reader.path(cache_path) if cache_path else None,
        raw=data,
        baseline=baseline,
    )
