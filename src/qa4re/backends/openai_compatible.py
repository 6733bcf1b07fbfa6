"""Models behind an OpenAI-compatible HTTP API (OpenAI, vLLM, SGLang, Ollama, llama.cpp's server, TGI).

Built on the official ``openai`` client. Letters are scored from the ``top_logprobs`` of the
first generated token (``max_tokens`` 1, temperature 0); when a server returns no
log-probabilities (or the answers are multi-token labels), the model's text comes back marked
``source=AnswerSource.TEXT`` and the pipeline reads the answer from it. Requests run concurrently (asyncio); failures are retried with exponential
backoff and jitter, honouring ``Retry-After``. A request that still fails becomes an error
result for its own example; the run goes on. The API key is read from ``OPENAI_API_KEY`` only
and is scrubbed from every message this module produces. When the model's tokenizer is known
(``letter_tokenizer``), letter-scoring requests carry a ``logit_bias`` that lifts the option
letters' tokens, so the first token is one of them.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from qa4re.backends.base import LANGUAGE_MODEL, GenerateRequest, OptionScores, ScoreRequest, Usage
from qa4re.errors import BackendError, BackendUnavailable, ConfigError
from qa4re.fields import setting
from qa4re.types import AnswerSource, is_option_letter

T = TypeVar("T")
_SECRET = re.compile(r"sk-[A-Za-z0-9_\-*]{4,}")
MISSING_LETTER_MARGIN = 1.0  # a letter absent from the top list scores this far below the least likely listed token


LETTER_BIAS = 100  # the API's maximum: the first token is one of the biased letters


def letter_token_ids(spec: str, model: str = "") -> dict[str, tuple[int, ...]]:
    """Token ids of each capital letter, bare and after a space, where the tokenizer has it as one token.

    ``spec``: ``tiktoken`` (the encoding of the OpenAI ``model``), ``tiktoken:<encoding>``, or a
    transformers tokenizer: ``default`` (the embedded model), a ``.gguf`` file, a folder or a hub id.
    """
    from qa4re.backends.embedded import EMBEDDED_NAMES, converted_folder, embedded_gguf

    encode: Callable[[str], list[int]]
    if spec == "tiktoken" or spec.startswith("tiktoken:"):
        try:
            import tiktoken
        except ImportError:
            raise BackendUnavailable("--letter-tokenizer tiktoken needs tiktoken: pip install tiktoken") from None
        name = spec.partition(":")[2]
        encoding = tiktoken.get_encoding(name) if name else tiktoken.encoding_for_model(model)
        encode = encoding.encode
    else:
        from transformers import AutoTokenizer

        gguf = embedded_gguf() if spec in EMBEDDED_NAMES else Path(spec) if spec.endswith(".gguf") else None
        # A GGUF file already converted for the transformers backend: its saved tokenizer loads in a fraction of the time.
        folder = converted_folder(gguf) if gguf and gguf.is_file() else None
        try:
            if folder is not None:
                tokenizer = AutoTokenizer.from_pretrained(str(folder))
            elif gguf is not None:
                tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            else:
                tokenizer = AutoTokenizer.from_pretrained(spec)
        except OSError as exc:
            raise BackendUnavailable(f"--letter-tokenizer {spec!r}: cannot load the tokenizer ({exc})") from None
        encode = partial(tokenizer.encode, add_special_tokens=False)
    found: dict[str, tuple[int, ...]] = {}
    for letter in string.ascii_uppercase:
        ids = {pieces[0] for pieces in (encode(letter), encode(" " + letter)) if len(pieces) == 1}
        found[letter] = tuple(sorted(ids))
    return found


def letter_bias(answers: Sequence[str], token_ids: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """The ``logit_bias`` of one request: the tokens of its own option letters lifted to the maximum."""
    return {str(i): LETTER_BIAS for answer in answers for i in token_ids.get(answer, ())}


def redact(text: str, key: str | None = None) -> str:
    """``text`` without the API key or anything shaped like one."""
    if key:
        text = text.replace(key, "[redacted]")
    return _SECRET.sub("[redacted]", text)


def letter_logprobs(top: Mapping[str, float], answers: Sequence[str]) -> tuple[dict[str, float], bool]:
    """Log-probability of each answer from a first-token top list (tokens like ``"A"`` or ``" A"``).

    Returns the scores and whether every answer was listed. Unlisted answers get the least
    likely listed log-probability minus a margin: at most that likely, and never ahead of a
    listed letter.
    """
    found: dict[str, float] = {}
    for token, logprob in top.items():
        answer = token.strip()
        if answer in answers:
            found[answer] = max(found.get(answer, -math.inf), logprob)
    floor = (min(top.values()) if top else 0.0) - MISSING_LETTER_MARGIN
    return {a: found.get(a, floor) for a in answers}, len(found) == len(answers)


def is_letter_set(answers: Sequence[str]) -> bool:
    """True for option letters (A..Z, AA..), False for label answers such as vanilla's relations."""
    return all(is_option_letter(a) for a in answers)


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` wins when the server sends it."""

    attempts: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_seconds)
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        status: int = exc.status_code
        return status in (408, 429) or status >= 500
    # Timeouts, refused or dropped connections, and bodies that do not parse (truncated).
    return bool(isinstance(exc, openai.APIConnectionError | openai.APIResponseValidationError | ValueError))


_SERVED = "openai:<name> models: "


@dataclass(frozen=True)
class OpenAIOptions:
    """The openai: backend's own options (each its own flag, or ``--backend-options KEY=VALUE``)."""

    base_url: str | None = setting(None, _SERVED + "API root, e.g. http://127.0.0.1:8080/v1 (default: $OPENAI_BASE_URL).")
    api: str = setting("chat", _SERVED + "chat or completions endpoint.")
    concurrency: int = setting(4, _SERVED + "requests in flight at once.", minimum=1, output=False)
    timeout: float = setting(60.0, _SERVED + "seconds per request before it is retried.", output=False)
    max_retries: int = setting(5, _SERVED + "retries per request (backoff with jitter, Retry-After honoured).", minimum=0, output=False)
    letter_tokenizer: str | None = setting(
        None, _SERVED + "its tokenizer (tiktoken[:<encoding>], default, a .gguf, folder or hub id), for logit_bias on the letters."
    )


class OpenAIBackend:
    """An OpenAI-compatible endpoint behind the backend seam.

    Args:
        model: the served model name (``--model openai:<name>``).
        base_url: API root, e.g. ``http://127.0.0.1:8080/v1`` (default: ``OPENAI_BASE_URL``, else OpenAI).
        api: ``chat`` (messages with the system message) or ``completions`` (the bare prompt).
        concurrency: requests in flight at once.
        timeout: seconds per request.
        top_logprobs: how many first-token alternatives to ask for (OpenAI allows up to 20).
        letter_tokenizer: the served model's tokenizer (see :func:`letter_token_ids`); when given,
            letter-scoring requests lift the tokens of their option letters with ``logit_bias``.
        batch_size: requests the pipeline hands over per call (default: 4 x concurrency).
        max_retries: retries per request after the first attempt (429, 5xx, timeouts, broken bodies).
    """

    capabilities = LANGUAGE_MODEL
    settings = ("chat_template",)  # the shared settings it takes
    Options = OpenAIOptions
    # Only the first token's top log-probabilities come back: past Z ("AB" may start with the token "A") letters cannot be told apart.
    max_letter_options = 26

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api: str = "chat",
        concurrency: int = 4,
        timeout: float = 60.0,
        top_logprobs: int = 20,
        letter_tokenizer: str | None = None,
        batch_size: int | None = None,
        max_retries: int = 5,
        retry: RetryPolicy | None = None,
        chat_template: bool | None = None,
    ) -> None:
        try:
            import openai  # noqa: F401
        except ImportError:
            raise BackendUnavailable("the OpenAI-compatible backend needs the openai package (a dependency of qa4re): pip install 'openai>=1.40'") from None
        if api not in ("chat", "completions"):
            raise ConfigError(f"--api must be chat or completions, got {api!r}")
        if not model:
            raise ConfigError("give the served model's name: --model openai:<name>")
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self.api = api
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.top_logprobs = top_logprobs
        self.letter_ids = letter_token_ids(letter_tokenizer, model) if letter_tokenizer else None
        self.retry = retry or RetryPolicy(attempts=max_retries + 1)
        self.max_batch_size = batch_size or 4 * self.concurrency
        self.commit_every = self.concurrency  # the output cache stores results this many at a time
        self.usage = Usage()
        self._key = os.environ.get("OPENAI_API_KEY")
        host = urlparse(self.base_url).netloc or self.base_url
        self.fingerprint = f"openai:{host}:{model}:{api}" + (":letter-bias" if self.letter_ids else "")

    # ---- plumbing ----------------------------------------------------------------------

    def _client(self) -> Any:
        import openai

        # Local servers need no key; the client insists on one, so send a placeholder.
        return openai.AsyncOpenAI(api_key=self._key or "no-key", base_url=self.base_url, timeout=self.timeout, max_retries=0)

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.retry.attempts):
            try:
                return await call()
            except Exception as exc:
                if not _retryable(exc) or attempt == self.retry.attempts - 1:
                    raise
                self.usage.retries += 1
                await self.retry.sleep(self.retry.delay(attempt, _retry_after(exc)))
        raise AssertionError("unreachable")

    def _run_all(self, jobs: Sequence[Callable[[Any], Awaitable[T]]]) -> list[T | BaseException]:
        async def main() -> list[T | BaseException]:
            gate = asyncio.Semaphore(self.concurrency)
            async with self._client() as client:

                async def one(job: Callable[[Any], Awaitable[T]]) -> T:
                    async with gate:
                        return await self._with_retries(lambda: job(client))

                return await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True)

        return asyncio.run(main())

    def _failure(self, exc: BaseException) -> str:
        return redact(f"{type(exc).__name__}: {exc}", self._key)

    def _messages(self, prompt: str, system: str | None, answer_prefix: str = "") -> list[dict[str, str]]:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        # A trailing assistant message is continued by servers that support prefill (llama.cpp, vLLM).
        return messages + ([{"role": "assistant", "content": answer_prefix}] if answer_prefix else [])

    # ---- the seam ----------------------------------------------------------------------

    async def _score_one(self, client: Any, request: ScoreRequest) -> OptionScores:
        if not is_letter_set(request.answers):
            # Label answers span several tokens; an API's first-token list cannot score them.
            text = await self._generate_one(client, GenerateRequest(request.prompt, 32, ("\n",), request.system))
            return OptionScores({}, False, source=AnswerSource.TEXT, text=text)
        extra: dict[str, Any] = {"logit_bias": letter_bias(request.answers, self.letter_ids)} if self.letter_ids else {}
        if self.api == "chat":
            response = await client.chat.completions.create(
                model=self.model, messages=self._messages(request.prompt, request.system, request.answer_prefix), max_tokens=1, temperature=0,
                logprobs=True, top_logprobs=self.top_logprobs, **extra,
            )  # fmt: skip
            choice = response.choices[0]
            content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
            top = {t.token: t.logprob for t in content[0].top_logprobs} if content else {}
            text = choice.message.content or ""
        else:
            response = await client.completions.create(
                model=self.model, prompt=request.prompt + request.answer_prefix, max_tokens=1, temperature=0, logprobs=self.top_logprobs, **extra
            )
            choice = response.choices[0]
            lists = getattr(choice.logprobs, "top_logprobs", None) if choice.logprobs else None
            top = dict(lists[0]) if lists else {}
            text = choice.text or ""
        self.usage.add(response.usage)
        if top:
            scores, complete = letter_logprobs(top, request.answers)
            return OptionScores(scores, complete)
        return OptionScores({}, False, source=AnswerSource.TEXT, text=text)

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """One first-token request per prompt, concurrently; a failed request gives an error result."""
        results = self._run_all([partial(self._score_one, request=r) for r in requests])
        return [
            r if isinstance(r, OptionScores) else OptionScores({a: -math.inf for a in q.answers}, False, error=self._failure(r))
            for q, r in zip(requests, results, strict=True)
        ]

    async def _generate_one(self, client: Any, request: GenerateRequest) -> str:
        stop = [s for s in request.stop if s] or None
        if self.api == "chat":
            response = await client.chat.completions.create(
                model=self.model, messages=self._messages(request.prompt, request.system), max_tokens=request.max_new_tokens, temperature=0, stop=stop
            )
            text = response.choices[0].message.content or ""
        else:
            response = await client.completions.create(model=self.model, prompt=request.prompt, max_tokens=request.max_new_tokens, temperature=0, stop=stop)
            text = response.choices[0].text or ""
        self.usage.add(response.usage)
        return str(text).lstrip()

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy text per prompt, concurrently; raises if any request still fails after retries."""
        results = self._run_all([partial(self._generate_one, request=r) for r in requests])
        for result in results:
            if isinstance(result, BaseException):
                raise BackendError(self._failure(result))
        return [str(r) for r in results]

    def close(self) -> None:
        """Nothing to release: each call opens and closes its own client."""
