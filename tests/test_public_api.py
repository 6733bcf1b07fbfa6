from __future__ import annotations

import subprocess
import sys

import qa4re


def test_all_lists_the_public_names_sorted() -> None:
    assert qa4re.__all__ == sorted(qa4re.__all__)
    assert all(hasattr(qa4re, name) for name in qa4re.__all__)


def test_importing_qa4re_does_not_import_torch() -> None:
    code = "import sys, qa4re; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
