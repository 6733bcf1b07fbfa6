"""Backend settings are parsed once, in the backend layer: which backend a --model names, and its options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers import qa4re
from qa4re.backends.settings import BackendSettings, ModelRef, parse_model
from qa4re.errors import UnknownNameError


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai:gpt-4o-mini", ModelRef("openai", "gpt-4o-mini")),
        ("transformers:./m.gguf", ModelRef("transformers", "./m.gguf")),
        ("llama:models/q.gguf", ModelRef("llama", "models/q.gguf")),
        ("default", ModelRef("transformers", "default")),
        ("Qwen/Qwen2.5-7B-Instruct", ModelRef("transformers", "Qwen/Qwen2.5-7B-Instruct")),
        ("models/qwen.gguf", ModelRef("transformers", "models/qwen.gguf")),
        ("http://localhost/x", ModelRef("transformers", "http://localhost/x")),
    ],
)
def test_model_references_name_their_backend(model: str, expected: ModelRef) -> None:
    assert parse_model(model) == expected


def test_a_mistyped_backend_prefix_is_refused_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError, match="Unknown backend 'opneai'. Did you mean: openai"):
        parse_model("opneai:gpt-4o")


def test_an_existing_path_with_a_colon_is_a_local_model(tmp_path: Path) -> None:
    folder = tmp_path / "run:1"
    folder.mkdir()
    assert parse_model(str(folder)).backend == "transformers"


def test_each_backend_gets_only_the_settings_it_declares() -> None:
    settings = BackendSettings(model="openai:m", batch_size=3, base_url="http://x/v1", chat_template=False)
    openai = settings.options()
    assert openai["base_url"] == "http://x/v1" and "batch_size" not in openai and openai["chat_template"] is False
    placement = {"device": "auto", "dtype": "auto"}  # device_map and threads are unset (None), so not passed
    assert replace(settings, model="default").options() == {"batch_size": 3, "chat_template": False, **placement}
    assert replace(settings, model="nli:./m").options() == {"batch_size": 3, **placement}
    assert replace(settings, model="llama:m.gguf", threads=2).options() == {"batch_size": 3, "chat_template": False, "threads": 2, **placement}


def test_cli_answers_a_mistyped_backend_in_one_line_before_reading_data(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", tmp_path / "missing", "--output", tmp_path / "o", "--model", "opneai:gpt-4o", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Unknown backend 'opneai'. Did you mean: openai? Available: fake, llama, nli, openai, transformers"
