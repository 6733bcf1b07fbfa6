from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def embedded_backend():  # type: ignore[no-untyped-def]
    """The real embedded SmolLM2-135M-Instruct model, loaded once per test session."""
    from qa4re.backends.transformers import TransformersBackend

    return TransformersBackend("default", batch_size=4)


@pytest.fixture(scope="session")
def embedded_completion_backend():  # type: ignore[no-untyped-def]
    """The embedded model without its chat template (plain completion prompts)."""
    from qa4re.backends.transformers import TransformersBackend

    return TransformersBackend("default", chat_template=False, batch_size=4)
