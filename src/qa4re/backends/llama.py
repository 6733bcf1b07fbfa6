"""GGUF files run in process by llama.cpp (llama-cpp-python): ``--model llama:PATH.gguf``.

The file stays quantized in memory, as llama.cpp users run it. Requests are encoded exactly as the
transformers backend encodes them (:mod:`qa4re.backends.encoding`): the GGUF file's own chat
template rendered the way transformers renders it, llama.cpp's tokenizer, and the same answer
surfaces, so both backends score the same token ids.

- **Scoring.** A prompt runs once with logits kept for its last position only; every answer's first
  token is read from that one distribution. Multi-token answers (letters past Z, vanilla labels,
  SuRE statements) continue on the prompt's KV state as a prefix tree: each run of tokens that
  answers share is evaluated once, branches after it, then the KV cells past the prompt are dropped.
- **Prefix reuse.** The KV cache holds the last prompt; the next prompt evaluates only the tokens
  after the prefix they share (the chat header and instruction, shared demonstrations, the same
  sentence). A call's prompts are scored in token order, so prompts with a common prefix follow
  each other.
- **Context.** ``context`` tokens of KV cache (default: the model's training context, at most
  8,192); a prompt plus answer that does not fit is that request's error record.
- **Memory.** On the CPU the file is read into memory, not mapped: llama.cpp repacks its quantized
  weights into CPU-friendly buffers on load, and a mapped file's pages would stay resident beside the
  repacked copy (Qwen2.5-Coder-1.5B Q4_K_M, 1,066 MiB: peak RSS 2,010 MiB mapped, 1,420 MiB read).
- **Device.** ``--device cuda`` (or ``mps``) offloads every layer (``n_gpu_layers=-1``) and needs a
  llama-cpp-python built with GPU support; ``auto`` offloads when the build supports it. ``--dtype``
  and ``--device-map`` do not apply: the file's quantization is what runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from qa4re.backends.base import LANGUAGE_MODEL, GenerateRequest, OptionScores, ScoreRequest
from qa4re.backends.embedded import EMBEDDED_NAMES, embedded_gguf, gguf_fingerprint
from qa4re.backends.encoding import Encoded, PromptEncoder, common_prefix_length, stop_at, with_lengths
from qa4re.errors import BackendError, BackendUnavailable, ConfigError
from qa4re.fields import setting

DEFAULT_CONTEXT = 8192  # KV cells allocated when the model's own context is longer
INSTALL_HINT = "make install-llama (or: CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON' pip install 'qa4re[llama]')"


def log_softmax(row: Any) -> Any:
    """Log-probabilities of one row of logits, in float64."""
    import numpy as np

    x = np.asarray(row, dtype=np.float64)
    top = x.max()
    return x - (top + math.log(float(np.exp(x - top).sum())))


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when set (Ray sets it to an actor's CPUs), else every core this process may use."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else len(os.sched_getaffinity(0))


def gpu_layers(device: str, supports_gpu: bool) -> int:
    """``n_gpu_layers`` for ``--device``: all layers on a GPU, none on the CPU; a GPU without a GPU build is refused."""
    if device == "cpu":
        return 0
    if device == "auto":
        return -1 if supports_gpu else 0
    if not supports_gpu:
        raise BackendUnavailable(
            f"--device {device}: this llama-cpp-python build has no GPU support; rebuild it with CMAKE_ARGS='-DGGML_CUDA=on' (or use --device cpu)"
        )
    return -1


@dataclass(frozen=True)
class LlamaOptions:
    """The llama: backend's own options (``--threads``, or ``--backend-options threads=N``)."""

    threads: int | None = setting(None, "llama: models: CPU threads (default: every core this process may use).", minimum=1, output=False)


class LlamaBackend:
    """A GGUF file run by llama.cpp behind the backend seam.

    Args:
        model: a ``.gguf`` file, or ``default`` for the embedded SmolLM2 file.
        chat_template: wrap prompts in the file's chat template (None: when it has one).
        batch_size: requests the pipeline hands over per call (llama.cpp scores them one after another).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (GPU offload of every layer).
        threads: CPU threads (default: ``OMP_NUM_THREADS``, else every core this process may use).
        context: KV cache size in tokens (default: the model's, at most 8,192).
    """

    capabilities = LANGUAGE_MODEL
    settings = ("chat_template", "batch_size", "device", "dtype", "device_map")  # the shared settings it takes
    Options = LlamaOptions
    max_letter_options = None  # every answer is scored to its end

    def __init__(
        self,
        model: str = "default",
        *,
        chat_template: bool | None = None,
        batch_size: int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        device_map: str | None = None,
        threads: int | None = None,
        context: int | None = None,
    ) -> None:
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise BackendUnavailable(f"the llama backend needs llama-cpp-python ({exc}): {INSTALL_HINT}") from None
        if dtype != "auto":
            raise ConfigError(f"--dtype {dtype} does not apply to llama: models (the GGUF file's own quantization runs); leave it at auto")
        if device_map is not None:
            raise ConfigError("--device-map does not apply to llama: models; use --device cuda to offload every layer")
        self._llama_cpp = llama_cpp
        if model in EMBEDDED_NAMES:
            path, identity = embedded_gguf(), "embedded"
        else:
            path, identity = Path(model).expanduser(), "gguf"
            if not path.is_file():
                raise BackendUnavailable(f"{model}: " + ("is a directory, not a GGUF file" if path.is_dir() else "no such GGUF file"))
        self.threads = threads or default_threads()
        layers = gpu_layers(device, bool(llama_cpp.llama_supports_gpu_offload()))
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path), n_ctx=context or DEFAULT_CONTEXT, n_batch=512, n_threads=self.threads, n_threads_batch=self.threads,
                n_gpu_layers=layers, logits_all=False, verbose=False, use_mmap=bool(layers),
            )  # fmt: skip
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailable(f"llama.cpp cannot load {path}: {exc}") from None
        vocab = self._llm._model
        trained = int(vocab.n_ctx_train())
        self.context = min(int(self._llm.n_ctx()), trained) if trained > 0 else int(self._llm.n_ctx())
        self._n_vocab = int(self._llm.n_vocab())
        self._n_batch = int(self._llm.n_batch)
        self._ids: list[int] = []  # the tokens whose KV cells sequence 0 holds
        template = self._llm.metadata.get("tokenizer.chat_template")
        if chat_template and not template:
            raise BackendUnavailable(f"model '{model}' has no chat template; use chat_template=False")
        use_chat = bool(template) if chat_template is None else chat_template
        chat = None
        if use_chat:
            eos, bos = vocab.token_eos(), vocab.token_bos()
            formatter = Jinja2ChatFormatter(template or "", eos_token=vocab.token_get_text(eos) if eos >= 0 else "",
                                            bos_token=vocab.token_get_text(bos) if bos >= 0 else "", add_generation_prompt=True)  # fmt: skip
            chat = lambda messages: str(formatter(messages=messages).prompt)  # noqa: E731
        newline = self._tokenize("\n", False)
        self.encoder = PromptEncoder(self._tokenize, chat, tuple([vocab.token_eos()] if use_chat else newline), max_positions=self.context)
        self.max_batch_size = batch_size or 8
        self.fingerprint = f"llama:{identity}:{gguf_fingerprint(path)}:chat={use_chat}" + (":gpu" if layers else "")

    def _tokenize(self, text: str, special: bool) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=special, special=True))

    # ---- llama.cpp ----------------------------------------------------------------------

    def _decode(self, tokens: Sequence[int], start: int, every_row: bool) -> Any:
        """Run ``tokens`` at positions ``start``... on sequence 0 (its cells from ``start`` on dropped first).
        Returns the logits of every token (``every_row``) or of the last one, as float32 rows."""
        import numpy as np

        ctx, batch = self._llm._ctx, self._llm._batch
        ctx.kv_cache_seq_rm(0, start, -1)
        rows: list[Any] = []
        for offset in range(0, len(tokens), self._n_batch):
            chunk = list(tokens[offset : offset + self._n_batch])
            batch.set_batch(batch=chunk, n_past=start + offset, logits_all=every_row)
            ctx.decode(batch)
            if every_row:
                rows.append(np.ctypeslib.as_array(ctx.get_logits(), shape=(len(chunk), self._n_vocab)).copy())  # type: ignore[no-untyped-call]
            elif offset + self._n_batch >= len(tokens):
                rows.append(np.ctypeslib.as_array(ctx.get_logits_ith(len(chunk) - 1), shape=(1, self._n_vocab)).copy())
        self._ids = [*self._ids[:start], *tokens]
        return np.concatenate(rows)

    def _after(self, ids: Sequence[int]) -> Any:
        """Log-probabilities of the token after ``ids``, reusing the KV cells of the prefix it shares with the last input."""
        shared = min(common_prefix_length(self._ids, ids), len(ids) - 1)  # at least one token runs, for its logits
        return log_softmax(self._decode(ids[shared:], shared, every_row=False)[-1])

    # ---- scoring ------------------------------------------------------------------------

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """Log-probability of every answer of every request; a request that does not fit the context is its own error."""
        results: list[OptionScores] = [OptionScores({})] * len(requests)
        encoded: dict[int, Encoded] = {}
        for i, request in enumerate(requests):
            try:
                e = self.encoder.encode(request)
            except BackendError as exc:
                results[i] = OptionScores({}, error=str(exc))
                continue
            longest = max((len(t) for t in e.answer_ids.values()), default=0)
            if len(e.prompt_ids) + longest > self.context:
                needed = len(e.prompt_ids) + longest
                results[i] = OptionScores({}, error=f"the prompt and its longest answer have {needed} tokens, more than the context of {self.context}")
                continue
            encoded[i] = e
        try:
            for i in sorted(encoded, key=lambda k: encoded[k].prompt_ids):  # shared prefixes next to each other
                result = self._score(encoded[i])
                results[i] = with_lengths(result, encoded[i])
        except RuntimeError as exc:  # llama_decode failed (no KV room, a backend fault)
            self._ids = []
            raise BackendError(f"llama.cpp: {exc}") from exc
        return results

    def _score(self, encoded: Encoded) -> OptionScores:
        prompt = encoded.prompt_ids
        first = self._after(prompt)
        scores = {a: -math.inf for a, t in encoded.answer_ids.items() if not t}
        live = {a: t for a, t in encoded.answer_ids.items() if t}
        fed = self._walk(len(prompt), 0, live, first, scores)
        return OptionScores({a: scores[a] for a in encoded.answer_ids}, tokens=len(prompt) + fed)

    def _walk(self, base: int, depth: int, group: dict[str, list[int]], logprobs: Any, scores: dict[str, float]) -> int:
        """Score ``group``'s answers from token ``depth`` on; the KV cache holds the prompt and their shared first
        ``depth`` tokens, and ``logprobs`` predicts token ``depth``. Returns the tokens evaluated."""
        for answer, target in group.items():
            scores[answer] = scores.get(answer, 0.0) + float(logprobs[target[depth]])
        longer = sorted((t[depth], a) for a, t in group.items() if len(t) > depth + 1)
        fed = 0
        for _, members in groupby(longer, key=lambda pair: pair[0]):
            branch = {a: group[a] for _, a in members}
            end = depth + 1  # run tokens depth..end-1 together while every member shares them and goes on past them
            while all(len(t) > end + 1 for t in branch.values()) and len({t[end] for t in branch.values()}) == 1:
                end += 1
            chain = next(iter(branch.values()))[depth:end]
            rows = self._decode(chain, base + depth, every_row=True)
            fed += len(chain)
            for k in range(len(chain) - 1):  # rows that predict tokens the branch shares
                shared = log_softmax(rows[k])
                for answer, target in branch.items():
                    scores[answer] += float(shared[target[depth + k + 1]])
            fed += self._walk(base, end, branch, log_softmax(rows[-1]), scores)
        return fed

    # ---- generation ---------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuation of each prompt (stops at an end-of-generation token), cut at the first stop string."""
        import numpy as np

        vocab = self._llm._model.vocab
        outputs: list[str] = []
        for request in requests:
            ids = self.encoder.ids(self.encoder.text(request.prompt, request.system))
            if len(ids) + request.max_new_tokens > self.context:
                raise BackendError(f"the prompt has {len(ids)} tokens; with {request.max_new_tokens} new ones it exceeds the context of {self.context}")
            try:
                logits = self._after(ids)
                new: list[int] = []
                while len(new) < request.max_new_tokens:
                    token = int(np.argmax(logits))
                    if self._llama_cpp.llama_vocab_is_eog(vocab, token):
                        break
                    new.append(token)
                    if len(new) < request.max_new_tokens:
                        logits = self._decode([token], len(ids) + len(new) - 1, every_row=False)[-1]
            except RuntimeError as exc:
                self._ids = []
                raise BackendError(f"llama.cpp: {exc}") from exc
            text = self._llm.detokenize(new, special=False).decode("utf-8", errors="ignore").lstrip()
            outputs.append(stop_at(text, request.stop))
        return outputs

    def close(self) -> None:
        """Free the model and its context."""
        self._llm.close()
