"""Settings declared once: a configuration dataclass's fields carry their help, bounds and reach.

Each setting is a dataclass field made with :func:`setting`. The command line's options, the grid
file's keys (with their types and minimums), the spaCy component's config and the engine's cache
key are all built from these fields, so a setting is named, typed, bounded and explained in one place.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, ClassVar

from qa4re.errors import ConfigError, Qa4reError, UnknownNameError


@dataclass(frozen=True, slots=True)
class Setting:
    """What a field means outside its dataclass.

    Attributes:
        help: one line for ``--help``, grid-file errors and the docs.
        minimum: the least value allowed (numbers).
        flag: the command-line flag(s), when not ``--name-with-dashes`` (a bool: ``--x/--no-x``).
        choices: the registry or enum names it takes, for did-you-mean messages.
        cli: offered on the command line.
        grid: a key of an experiment grid (a variant, or a model entry).
        spacy: a key of the spaCy component's config.
        output: it can change the outputs (it is part of a pipeline's cache key).
    """

    help: str
    minimum: float | None = None
    flag: str | None = None
    choices: Callable[[], Iterable[str]] | None = None
    cli: bool = True
    grid: bool = True
    spacy: bool = False
    output: bool = True


def setting(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field with its :class:`Setting` (``meta``: the Setting's other attributes)."""
    return dataclasses.field(default=default, metadata={"setting": Setting(help, **meta)})


@dataclass(frozen=True, slots=True)
class Declared:
    """One declared field: its name, resolved type, default and :class:`Setting`."""

    name: str
    type: Any
    default: Any
    setting: Setting

    @property
    def base(self) -> Any:
        """The type without ``| None``."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        return args[0] if isinstance(self.type, types.UnionType) and len(args) == 1 else self.type

    @property
    def optional(self) -> bool:
        return isinstance(self.type, types.UnionType) and type(None) in typing.get_args(self.type)


def declared(cls: type) -> tuple[Declared, ...]:
    """The fields of ``cls`` declared with :func:`setting`, in order."""
    return _declared(cls)


@cache
def _declared(cls: Any) -> tuple[Declared, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(Declared(f.name, hints[f.name], f.default, f.metadata["setting"]) for f in dataclasses.fields(cls) if "setting" in f.metadata)


def field_names(cls: type, where: Callable[[Setting], bool] = lambda s: True) -> list[str]:
    """Names of the declared fields of ``cls`` whose setting passes ``where``."""
    return [d.name for d in declared(cls) if where(d.setting)]


def check_value(d: Declared, value: Any) -> Any:
    """``value`` checked against the field's type, minimum and choices; enums made from their names.

    Raises:
        ConfigError: a wrong type, a value below the minimum, or an unknown name (with suggestions).
    """
    if value is None:
        if d.optional:
            return None
        raise ConfigError(f"expected {_type_name(d.base)}, got null")
    base = d.base
    if isinstance(base, type) and issubclass(base, Enum):
        try:
            return base(value)
        except ValueError:
            raise UnknownNameError(d.name, str(value), [m.value for m in base]) from None
    expected = (int, float) if base is float else base
    if not isinstance(value, expected) or isinstance(value, bool) and base is not bool:
        raise ConfigError(f"expected {_type_name(base)}, got {value!r}")
    if d.setting.minimum is not None and value < d.setting.minimum:
        raise ConfigError(f"must be at least {d.setting.minimum:g}, got {value}")
    if d.setting.choices is not None:
        names = list(d.setting.choices())
        if value not in names:
            raise UnknownNameError(d.name, str(value), names)
    return float(value) if base is float else value


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def checked(cls: type, values: Mapping[str, Any], where: str = "", allowed: Iterable[str] | None = None) -> dict[str, Any]:
    """``values`` for ``cls`` checked field by field; an unknown key names the closest ones.

    Errors are :class:`ConfigError` prefixed with ``where`` and the key (``variants.t.debias: ...``).
    """
    fields = {d.name: d for d in declared(cls)}
    keys = set(fields if allowed is None else allowed)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in keys:
            raise ConfigError(f"{where}{key}: {UnknownNameError('key', key, keys)}")
        try:
            out[key] = check_value(fields[key], value)
        except Qa4reError as exc:
            raise ConfigError(f"{where}{key}: {exc}") from None
    return out


def validate(instance: Any) -> None:
    """Check every declared field of a dataclass instance, making enums from their names (its ``__post_init__`` calls this)."""
    for d in declared(type(instance)):
        value = getattr(instance, d.name)
        try:
            normal = check_value(d, value)
        except UnknownNameError:
            raise
        except ConfigError as exc:
            raise ConfigError(f"{d.name}: {exc}") from None
        if normal is not value and type(normal) is not type(value):  # an enum from its name; an int for a float
            object.__setattr__(instance, d.name, normal)


def output_values(instance: Any) -> tuple[Any, ...]:
    """The values of the fields that can change outputs (``Setting.output``), for a cache key."""
    return tuple((d.name, getattr(instance, d.name)) for d in declared(type(instance)) if d.setting.output)


def _typed(raw: str, kind: Any) -> Any:
    """A KEY=VALUE value as the field's type (bool: true/false, yes/no, 1/0)."""
    if kind is bool:
        if raw.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(f"expected true or false, got '{raw}'")
        return raw.lower() in ("true", "yes", "1")
    for number, noun in ((int, "an integer"), (float, "a number")):
        if kind is number:
            try:
                return number(raw)
            except ValueError:
                raise ValueError(f"expected {noun}, got '{raw}'") from None
    return raw


class OwnsOptions:
    """What a registered method, debiaser or selector declares about its settings (the prompt layer's plug-ins).

    ``takes``: the ``ExtractorConfig`` fields that only some of its kind read and it does (another one of
    them set away from its default is refused in one line); ``Options``: a dataclass of options of its
    own, fields made with :func:`setting` (``--method-options``, ``--debias-options``, ``--selector-options``),
    given to the instance as ``own`` (None where it declares none).
    """

    takes: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type | None] = None

    def __init__(self, own: Any = None) -> None:
        """``own``: its ``Options``, as ``ExtractorConfig.own_options`` parsed them (None: every default)."""
        self.own: Any = own if own is not None or self.Options is None else self.Options()


def own_options(cls: type, text: str | None, flag: str, owner: str) -> Any:
    """``cls.Options`` made from ``text`` (``KEY=VALUE,...``, see :func:`keyword_options`); None where ``cls`` declares none."""
    options: type | None = getattr(cls, "Options", None)
    values = keyword_options(text, options, flag, owner)
    return options(**values) if options is not None else None


def keyword_options(text: str | None, options: type | None, flag: str, owner: str) -> dict[str, Any]:
    """``KEY=VALUE[,KEY=VALUE]`` checked against a plug-in's own ``Options`` dataclass (fields made with :func:`setting`).

    ``owner`` names the class for messages (``the toy backend (ToyBackend)``); an option it does not
    declare, a value of the wrong type or below its minimum is one :class:`ConfigError` naming ``flag``.
    """
    if not text:
        return {}
    if options is None:
        raise ConfigError(f"{flag}: {owner} declares no options of its own")
    fields = {d.name: d for d in declared(options)}
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, equals, raw = part.partition("=")
        key = key.strip().replace("-", "_")
        if not equals:
            raise ConfigError(f"{flag}: expected KEY=VALUE, got '{part}'")
        if key not in fields:
            raise ConfigError(f"{flag}: {UnknownNameError(f'option of {owner}', key, list(fields))}")
        try:
            values[key] = check_value(fields[key], _typed(raw.strip(), fields[key].base))
        except (ConfigError, ValueError) as exc:
            raise ConfigError(f"{flag}: {key}: {exc}") from None
    return values
