"""The OpenAI-compatible backend: pure parts here; against a real llama.cpp server in test_served_model.py."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

from qa4re.backends.openai_compatible import RetryPolicy, letter_bias, letter_logprobs, letter_token_ids, redact


def test_letters_are_read_from_the_first_token_top_list_with_a_floor_for_missing_ones() -> None:
    scores, complete = letter_logprobs({" A": -0.5, "B": -1.0, "A": -0.7, "hello": -3.0}, ("A", "B", "C"))
    assert scores == {"A": -0.5, "B": -1.0, "C": -4.0}
    assert not complete
    assert letter_logprobs({"A": -0.1, "B": -2.5}, ("A", "B")) == ({"A": -0.1, "B": -2.5}, True)


def test_keys_never_survive_in_messages() -> None:
    message = "Error code: 401 - Incorrect API key provided: sk-abc123456789xyz. You can find your key at ..."
    assert "sk-abc" not in redact(message)
    assert "s3cr3t-value" not in redact("bad key s3cr3t-value", "s3cr3t-value")


def test_retry_after_wins_over_backoff_and_backoff_is_capped() -> None:
    policy = RetryPolicy(base_seconds=0.5, max_seconds=4)
    assert policy.delay(3, 2.0) == 2.0
    assert policy.delay(0, 100.0) == 4
    assert all(0 <= policy.delay(10, None) <= 4 for _ in range(50))


def test_letter_bias_lifts_exactly_the_tokens_of_the_requests_own_letters(embedded_backend: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ids = letter_token_ids("default")  # the embedded model's tokenizer, from its converted folder
    tokenizer = embedded_backend.tokenizer  # the one the embedded model runs with
    monkeypatch.setenv("QA4RE_CACHE_DIR", str(tmp_path))  # nothing converted: read from the GGUF file itself
    assert letter_token_ids("default") == ids
    assert set(ids) == set(string.ascii_uppercase)
    for letter, tokens in ids.items():
        assert tokens and all(tokenizer.decode([t]).strip() == letter for t in tokens)
    bias = letter_bias(("A", "B", "C"), ids)
    assert set(bias) == {str(t) for letter in "ABC" for t in ids[letter]} and set(bias.values()) == {100}
    assert letter_bias(("AA",), ids) == {}  # two-letter options are not single tokens
