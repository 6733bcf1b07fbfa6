"""The package's structure stays what the README's Layout section says: no import circles, no upward import."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_imports.py"


def _checker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_circle_and_no_upward_import() -> None:
    assert _checker().problems() == []


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    checker = _checker()
    package = tmp_path / "qa4re"
    (package / "extract").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "types.py").write_text("from qa4re.extract.pipeline import Extractor\n")
    (package / "extract" / "__init__.py").write_text("")
    (package / "extract" / "pipeline.py").write_text("import qa4re.types\n")
    checker.SRC = tmp_path
    found = checker.problems()
    assert any("qa4re.types (layer 0) imports qa4re.extract.pipeline (layer 2)" in line for line in found)
    assert "import circle: qa4re.extract.pipeline -> qa4re.types" in found


def test_the_checker_counts_a_type_only_circle_and_sub_layers_of_extract(tmp_path: Path) -> None:
    checker = _checker()
    package = tmp_path / "qa4re"
    (package / "extract" / "debiasers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "extract" / "__init__.py").write_text("")
    (package / "extract" / "debiasers" / "__init__.py").write_text("")
    (package / "extract" / "builder.py").write_text("from qa4re.extract.debiasers.base import Debiaser\n")
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qa4re.extract.builder import PreparedPrompt\n"
    (package / "extract" / "debiasers" / "base.py").write_text(guarded)
    checker.SRC = tmp_path
    found = checker.problems()
    assert "import circle: qa4re.extract.builder -> qa4re.extract.debiasers.base" in found
    assert any("qa4re.extract.builder (qa4re.extract sub-layer 2) imports qa4re.extract.debiasers.base (sub-layer 3)" in line for line in found)
