"""Named plug-ins: methods, debiasers, selectors, backends and datasets are each found in one registry.

A registry maps a name to an object, loaded on first use from ``"module:attribute"`` so that
``import qa4re`` imports no model library. Third-party packages add entries through an entry-point
group (``qa4re.methods``, ``qa4re.debiasers``, ``qa4re.selectors``, ``qa4re.backends``,
``qa4re.datasets``)::

    [project.entry-points."qa4re.methods"]
    my-method = "my_package.method:MyMethod"

or, in a running program, with :meth:`Registry.add`. An unknown name raises
:class:`~qa4re.errors.UnknownNameError` with the closest names.
"""

from __future__ import annotations

import importlib
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from typing import Generic, TypeVar, cast

from qa4re.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> objects of one kind; built-ins by import path, plus the entry points of ``group``."""

    def __init__(self, kind: str, group: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self.group = group
        self._paths = dict(builtins)
        self._loaded: dict[str, T] = {}
        self._scanned = False

    def _scan(self) -> None:
        if not self._scanned:
            self._scanned = True
            for entry in metadata.entry_points(group=self.group):
                self._paths.setdefault(entry.name, entry.value)

    def add(self, name: str, target: T | str) -> None:
        """Register ``target`` (an object, or ``"module:attribute"``) as ``name``, replacing any entry of that name."""
        self._loaded.pop(name, None)
        if isinstance(target, str):
            self._paths[name] = target
        else:
            self._paths[name] = ""
            self._loaded[name] = target

    def remove(self, name: str) -> None:
        """Forget ``name`` (a plug-in registered for a while, as in a test)."""
        self._paths.pop(name, None)
        self._loaded.pop(name, None)

    def names(self) -> list[str]:
        """Every registered name, built-in ones first."""
        self._scan()
        return list(self._paths)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def check(self, name: str) -> str:
        """``name`` if registered, else :class:`UnknownNameError` with suggestions (nothing is imported)."""
        if name not in self:
            raise UnknownNameError(self.kind, name, self.names())
        return name

    def get(self, name: str) -> T:
        """The object registered as ``name``, imported on first use."""
        if name not in self._loaded:
            module, _, attribute = self._paths[self.check(name)].partition(":")
            value: object = importlib.import_module(module)
            for part in attribute.split(".") if attribute else ():
                value = getattr(value, part)
            self._loaded[name] = cast(T, value)
        return self._loaded[name]


class DataRegistry(Registry[str]):
    """Names -> data files inside packages (``"package:path/to/file.yaml"``): schemas and prompt templates.

    Versioned names (``qa4re.v1``) and the same entry points as code plug-ins; nothing is imported,
    the file is read when asked (:meth:`file`).
    """

    def get(self, name: str) -> str:
        """The ``package:path`` reference registered as ``name``."""
        self.check(name)
        return self._paths[name]

    def file(self, name: str) -> Traversable:
        """The data file registered as ``name``."""
        package, _, path = self.get(name).partition(":")
        return resources.files(package).joinpath(*path.split("/"))
