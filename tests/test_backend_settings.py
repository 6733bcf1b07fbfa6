"""Backend settings are parsed once, in the backend layer: which backend a --model names, and its options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers import qa4re
from qa4re.backends.settings import BackendSettings, ModelRef, parse_model
from qa4re.errors import ConfigError, UnknownNameError


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


def test_each_built_in_backend_declares_its_own_options_and_each_is_a_flag_of_its_own() -> None:
    from dataclasses import fields

    from qa4re.backends.registry import BACKENDS, option_names
    from qa4re.backends.settings import SharedSettings

    owned = {name: option_names(BACKENDS.get(name)) for name in ("transformers", "llama", "openai", "nli", "fake")}
    assert owned == {"transformers": {"prefix_cache_mib"}, "llama": {"threads"}, "nli": set(), "fake": set(),
                     "openai": {"base_url", "api", "concurrency", "timeout", "max_retries", "letter_tokenizer"}}  # fmt: skip
    flags = {f.name for f in fields(BackendSettings)}
    shared = {f.name for f in fields(SharedSettings)}
    for name, own in owned.items():  # declared in the backend's module, composed into the settings; no name in two places
        assert own <= flags and not own & shared and not own & set(BACKENDS.get(name).settings), name
    # Set by its flag or by --backend-options, a built-in backend's own option reaches its constructor; both ways at once is one line.
    assert BackendSettings(model="llama:m.gguf", backend_options="threads=3").options()["threads"] == 3
    assert BackendSettings(model="llama:m.gguf", threads=3).options()["threads"] == 3
    with pytest.raises(ConfigError, match="--backend-options: threads is also set by --threads; give it once"):
        BackendSettings(model="llama:m.gguf", threads=2, backend_options="threads=3")
    with pytest.raises(ConfigError, match=r"--threads: the transformers backend does not take this option \(it takes: .*prefix_cache_mib"):
        BackendSettings(model="default", threads=2)
    with pytest.raises(ConfigError, match=r"--backend-options: Unknown option of the openai backend \(OpenAIBackend\) 'concurency'. Did you mean"):
        BackendSettings(model="openai:m", backend_options="concurency=2")


def test_each_backend_gets_only_the_settings_it_declares() -> None:
    settings = BackendSettings(model="openai:m", batch_size=3, base_url="http://x/v1", chat_template=False)
    openai = settings.options()
    assert openai["base_url"] == "http://x/v1" and "batch_size" not in openai and openai["chat_template"] is False  # batch_size: the pipeline's
    placement = {"device": "auto", "dtype": "auto"}  # device_map and threads are unset (None), so not passed
    local = BackendSettings(model="default", batch_size=3, chat_template=False)
    assert local.options() == {"batch_size": 3, "chat_template": False, **placement}
    assert replace(local, model="nli:./m", chat_template=None).options() == {"batch_size": 3, **placement}
    assert replace(local, model="llama:m.gguf", threads=2).options() == {"batch_size": 3, "chat_template": False, "threads": 2, **placement}


def test_cli_answers_a_mistyped_backend_in_one_line_before_reading_data(tmp_path: Path) -> None:
    result = qa4re("evaluate", "--dataset", "semeval", "--data", tmp_path / "missing", "--output", tmp_path / "o", "--model", "opneai:gpt-4o", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Unknown backend 'opneai'. Did you mean: openai? Available: fake, llama, nli, openai, transformers"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "default", "threads": 2}, "--threads: the transformers backend does not take this option"),
        ({"model": "openai:gpt-4o-mini", "dtype": "bfloat16"}, "--dtype: the openai backend does not take this option"),
        ({"model": "default", "base_url": "http://127.0.0.1:1/v1"}, "--base-url: the transformers backend does not take this option"),
        ({"model": "openai:gpt-4o-mini", "adapter": "runs/a"}, "--adapter: the openai backend cannot load a LoRA adapter"),
        ({"model": "llama:m.gguf", "adapter": "runs/a"}, r"--adapter: the llama backend cannot load a LoRA adapter \(local transformers models can\)"),
    ],
)
def test_an_option_the_backend_does_not_take_is_refused_not_dropped(options: dict[str, object], message: str) -> None:
    from qa4re.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        BackendSettings(**options)  # type: ignore[arg-type]


def test_options_the_pipeline_reads_are_taken_with_any_backend() -> None:
    settings = BackendSettings(model="openai:gpt-4o-mini", batch_size=4, price_per_million_input=0.15)
    assert settings.effective_batch_size() == 4


def test_a_grids_model_defaults_reach_only_the_models_that_take_them(tmp_path: Path) -> None:
    from qa4re.experiments.config import load_experiment

    grid = tmp_path / "grid.yaml"
    grid.write_text("dtype: bfloat16\nmodels: [default, 'openai:gpt-4o-mini']\ndatasets: [{dataset: semeval, data: .}]\n")
    local, served = load_experiment(grid).models
    assert (local.backend.dtype, served.backend.dtype) == ("bfloat16", "auto")


def test_backend_options_are_refused_by_a_backend_that_declares_none() -> None:
    with pytest.raises(ConfigError, match=r"--backend-options: the nli backend \(NLIBackend\) declares no options of its own"):
        BackendSettings(model="nli:./m", backend_options="temperature=0.5")
