"""Exceptions raised by qa4re.

The tree::

    Qa4reError                  anything qa4re raises on purpose; the CLI prints it as one line
    ├── ConfigError             a schema, template set or option is invalid
    │   └── SchemaError         a relation schema file is invalid (names file and key)
    ├── DataError               an input record is invalid (carries path, line, field)
    ├── BackendError            a model backend failed
    │   └── BackendUnavailable  the backend cannot be built (missing extra, missing model)
    └── UnknownNameError        an unknown registry name (also a KeyError), with suggestions
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Qa4reError(Exception):
    """Base class of every error qa4re raises on purpose."""


class ConfigError(Qa4reError):
    """A configuration value (schema, template, option) is invalid."""


class SchemaError(ConfigError):
    """A relation schema is invalid; the message names the file and the offending key."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}")


class DataError(Qa4reError):
    """An input record is invalid; ``path``, ``line`` and ``field`` locate it."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class BackendError(Qa4reError):
    """A model backend failed to produce a result."""


class BackendUnavailable(BackendError):
    """A backend cannot be built here (a missing extra or model file)."""


class UnknownNameError(Qa4reError, KeyError):
    """An unknown name was asked of a registry; the message suggests close names."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        options = sorted(available)
        close = difflib.get_close_matches(name, options, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        self.message = f"Unknown {kind} '{name}'.{hint} Available: {', '.join(options)}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
