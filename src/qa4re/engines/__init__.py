"""Where pipelines run: this process (:mod:`~qa4re.engines.local`) or a Ray actor pool (:mod:`~qa4re.engines.ray`).

:mod:`~qa4re.engines.base` is the seam (specs, runners, engines), :mod:`~qa4re.engines.specs` the
pipelines as plain data, :mod:`~qa4re.engines.settings` the options and the one place an engine is
built. Nothing below this package imports it.
"""

from qa4re.engines.base import Engine, Runner, Spec
from qa4re.engines.local import LocalEngine
from qa4re.engines.settings import EngineKind, EngineSettings
from qa4re.engines.specs import DocumentSpec, ExtractorSpec

__all__ = ["DocumentSpec", "Engine", "EngineKind", "EngineSettings", "ExtractorSpec", "LocalEngine", "Runner", "Spec"]
