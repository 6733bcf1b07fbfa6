"""Local Hugging Face models: causal LMs (chat template optional) and seq2seq models (FLAN-T5).

Answers are scored from the model's next-token distribution after the prompt. When every
answer of a request is a single token (QA4RE letters A-Z), one batched forward pass scores all
of them, computing logits for the last position only. Multi-token answers (letters past Z,
vanilla's relation labels) are scored exactly: the prompt runs once, its KV cache is repeated
for the answers, and the remaining answer tokens run teacher-forced.
"""

from __future__ import annotations

import inspect
import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qa4re.backends.adapters import adapter_tag, check_base, with_adapter
from qa4re.backends.base import LANGUAGE_MODEL, GenerateRequest, OptionScores, ScoreRequest
from qa4re.backends.device import BATCH_DEFAULTS, Placement, load_placed, resolve
from qa4re.backends.embedded import resolve_model
from qa4re.backends.encoding import Encoded, PromptEncoder, common_prefix_length, has_prefix_answers, stop_at, with_lengths
from qa4re.errors import BackendError, BackendUnavailable
from qa4re.fields import setting

__all__ = ["AnswerTree", "PrefixStates", "TransformersBackend", "common_prefix_length", "has_prefix_answers", "prefix_grouped_batches"]


KVStates = list[tuple[Any, Any]]  # per layer: (keys, values), batch 1


TREE_HEAD_ROWS = 256  # answer-tree nodes whose vocabulary-wide logits exist at once


class AnswerTree:
    """The answers' token sequences (all but each one's last token, which is only predicted) as a
    prefix tree flattened into one row: ``tokens[k]`` at depth ``depths[k]``, below ``ancestors[k]``."""

    def __init__(self, answers: Mapping[str, Sequence[int]]) -> None:
        self.tokens: list[int] = []
        self.depths: list[int] = []
        self.ancestors: list[tuple[int, ...]] = []
        self._nodes: dict[tuple[int, ...], int] = {}
        for target in answers.values():
            for end in range(1, len(target)):
                self._node(tuple(target[:end]))
        # node -> the tokens that follow it in some answer (every node has at least one)
        self.children: dict[int, set[int]] = {}
        for target in answers.values():
            for node, token in zip(self.path(target), target[1:], strict=True):
                self.children.setdefault(node, set()).add(token)

    def _node(self, prefix: tuple[int, ...]) -> int:
        if prefix not in self._nodes:
            parent = self._node(prefix[:-1]) if len(prefix) > 1 else None
            self._nodes[prefix] = len(self.tokens)
            self.tokens.append(prefix[-1])
            self.depths.append(len(prefix) - 1)
            self.ancestors.append(() if parent is None else (*self.ancestors[parent], parent))
        return self._nodes[prefix]

    def path(self, target: Sequence[int]) -> list[int]:
        """The nodes whose next-token distributions predict ``target[1:]``."""
        return [self._nodes[tuple(target[:end])] for end in range(1, len(target))]


def prefix_grouped_batches(prompts: Sequence[list[int]], max_batch_size: int, token_budget: int, min_shared: int) -> list[list[int]]:
    """Batches of prompt indices: prompts that share a long prefix together, then by length.

    Sorting the token sequences puts prompts with a common prefix side by side. A run of
    neighbours sharing at least ``min_shared`` tokens beyond what all prompts share (the same
    demonstrations, the same sentence) becomes a group; the remaining prompts form one pool.
    Each group and the pool are sorted by length and cut at ``max_batch_size`` prompts or
    ``token_budget`` padded tokens.
    """
    order = sorted(range(len(prompts)), key=lambda i: prompts[i])
    if not order:
        return []
    links = [common_prefix_length(prompts[a], prompts[b]) for a, b in zip(order, order[1:], strict=False)]
    floor = min(links, default=0) + min_shared
    groups: list[list[int]] = [[order[0]]]
    for link, i in zip(links, order[1:], strict=True):
        if link >= floor:
            groups[-1].append(i)
        else:
            groups.append([i])
    pool = [g[0] for g in groups if len(g) == 1]
    batches: list[list[int]] = []
    for members in [g for g in groups if len(g) > 1] + [pool]:
        members.sort(key=lambda i: len(prompts[i]))
        batch: list[int] = []
        for i in members:
            if batch and (len(batch) == max_batch_size or (len(batch) + 1) * len(prompts[i]) > token_budget):
                batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            batches.append(batch)
    return batches


def states_bytes(states: KVStates) -> int:
    """Bytes the key and value tensors of ``states`` hold."""
    return sum(int(t.numel()) * int(t.element_size()) for layer in states for t in layer)


def default_prefix_bytes() -> int:
    """The prefix store's default bound: 256 MiB, or 2% of this machine's memory where that is less."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        total = 16 * 2**30
    return min(256 * 2**20, total // 50)


class PrefixStates:
    """KV states of recently used token prefixes, least recently used evicted first.

    Bounded by the bytes their tensors hold, so memory stays flat however long a run is (one prefix
    larger than the bound alone is kept until the next one arrives).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[int, ...], KVStates] = OrderedDict()

    def longest(self, ids: Sequence[int]) -> tuple[tuple[int, ...], KVStates] | None:
        """The longest stored prefix of ``ids``, marked as recently used."""
        best = max((key for key in self._entries if len(key) <= len(ids) and tuple(ids[: len(key)]) == key), key=len, default=None)
        if best is None:
            return None
        self._entries.move_to_end(best)
        return best, self._entries[best]

    def put(self, ids: tuple[int, ...], states: KVStates) -> None:
        if ids in self._entries:
            self.bytes -= states_bytes(self._entries.pop(ids))
        self._entries[ids] = states
        self.bytes += states_bytes(states)
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            self.bytes -= states_bytes(self._entries.popitem(last=False)[1])

    def clear(self) -> None:
        """Release every stored state."""
        self._entries.clear()
        self.bytes = 0


@dataclass(frozen=True)
class TransformersOptions:
    """The transformers backend's own options (``--prefix-cache-mib``, or ``--backend-options prefix_cache_mib=N``)."""

    prefix_cache_mib: int | None = setting(
        None, "Local transformers models: MiB of shared-prefix KV states kept for reuse (default: 256, or 2% of RAM if less).", minimum=0, output=False
    )


class TransformersBackend:
    """A local transformers model behind the backend seam.

    Args:
        model: ``default`` (embedded SmolLM2), a hub id, a local folder or a ``.gguf`` file.
        chat_template: wrap prompts in the tokenizer's chat template (causal LMs that have one).
            None: use it when present. Seq2seq models always get the bare prompt.
        batch_size: most prompts per forward pass (default: 8 on a CPU, 32 on CUDA).
        device, dtype, device_map: where and in what precision the model runs
            (:mod:`qa4re.backends.device`; default: CUDA in bfloat16 when available, else the CPU in float32).
        token_budget: most padded tokens per forward pass of the letter-scoring path (prompts are
            bucketed by length, so a batch of short prompts holds more of them; default: 4,096 on a CPU, 32,768 on CUDA).
        prefix_reuse: run a prefix that the prompts of a batch share (instruction, shared
            demonstrations, the start of a sentence with many pairs) once and reuse its KV states.
        prefix_cache_mib: the most MiB of such KV states kept across calls (default: 256, or 2% of
            this machine's memory where that is less).
        adapter: a LoRA adapter folder (``qa4re tune``), merged into the weights; part of the fingerprint.
    """

    capabilities = LANGUAGE_MODEL
    settings = ("chat_template", "batch_size", "device", "dtype", "device_map", "adapter")  # the shared settings it takes
    Options = TransformersOptions
    max_letter_options = None  # every answer is scored to its end, so letters past Z can win too

    min_shared_prefix = 16  # tokens; shorter shared prefixes are not worth a separate forward pass

    def __init__(
        self,
        model: str = "default",
        *,
        chat_template: bool | None = None,
        batch_size: int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        device_map: str | None = None,
        token_budget: int | None = None,
        prefix_reuse: bool = True,
        prefix_cache_mib: int | None = None,
        adapter: str | None = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BackendUnavailable(f"the transformers backend needs torch and transformers: {exc}") from None
        self._torch = torch
        path, identity = resolve_model(model)
        if adapter is not None:
            check_base(adapter, identity)  # before the weights load: a wrong or missing adapter costs nothing
        try:
            config = AutoConfig.from_pretrained(path)
            self.placement = resolve(Placement(device, dtype, device_map), getattr(config, "model_type", None))
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.is_seq2seq = bool(getattr(config, "is_encoder_decoder", False))
            self.model = load_placed(AutoModelForSeq2SeqLM if self.is_seq2seq else AutoModelForCausalLM, path, self.placement)
        except OSError as exc:
            raise BackendUnavailable(f"cannot load model '{model}': {exc}") from None
        if adapter is not None:
            self.model = with_adapter(self.model, adapter)
            identity += adapter_tag(adapter)
        self.device = self.model.device  # the first layer's device when a device map spreads the model
        self.max_positions: int | None = getattr(self.model.config, "max_position_embeddings", None)  # None: no fixed context (T5)
        default_batch, default_budget = BATCH_DEFAULTS[self.placement.kind]
        self.max_batch_size = batch_size or default_batch
        self.token_budget = token_budget or default_budget
        self.prefix_reuse = prefix_reuse and not self.is_seq2seq
        self._prefixes = PrefixStates(default_prefix_bytes() if prefix_cache_mib is None else prefix_cache_mib * 2**20)
        # transformers 5 renamed the forward argument past_key_values to cache.
        self._cache_kwarg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if chat_template and (self.is_seq2seq or not has_template):
            raise BackendUnavailable(f"model '{model}' has no chat template; use chat_template=False")
        self.use_chat_template = (has_template and not self.is_seq2seq) if chat_template is None else chat_template
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # What ends an answer: the end of the turn (chat), the end of the output (seq2seq), or a newline.
        newline = self.tokenizer("\n", add_special_tokens=False)["input_ids"]
        end_ids = [self.tokenizer.eos_token_id] if self.use_chat_template or self.is_seq2seq else newline
        self.encoder = PromptEncoder(self._tokenize, self._chat if self.use_chat_template else None, tuple(end_ids), self.is_seq2seq, self.max_positions)
        kind = "seq2seq" if self.is_seq2seq else "causal"
        self.fingerprint = f"transformers:{identity}:{kind}:chat={self.use_chat_template}{self.placement.tag}"

    def clear_prefix_cache(self) -> None:
        """Release the stored prefix KV states (between the cells of a grid; benchmarks start each timed run from empty)."""
        self._prefixes.clear()

    release = clear_prefix_cache  # what the output cache forwards between runs

    # ---- text -> ids -------------------------------------------------------------------

    def _tokenize(self, text: str, special: bool) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=special)["input_ids"]
        return ids

    def _chat(self, messages: list[dict[str, str]]) -> str:
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _prompt_text(self, prompt: str, system: str | None, answer_prefix: str = "") -> str:
        return self.encoder.text(prompt, system, answer_prefix)

    def _ids(self, text: str) -> list[int]:
        return self.encoder.ids(text)

    def _encode(self, request: ScoreRequest) -> Encoded:
        return self.encoder.encode(request)

    # ---- scoring -----------------------------------------------------------------------

    def score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        """Log-probability of every answer of every request (summed over answer tokens).

        A torch runtime failure (out of memory, a too-long input) is raised as BackendError.
        """
        try:
            return self._score_options(requests)
        except RuntimeError as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}") from exc

    def _score_options(self, requests: Sequence[ScoreRequest]) -> list[OptionScores]:
        encoded = [self._encode(r) for r in requests]
        results: list[OptionScores | None] = [None] * len(requests)
        single = [i for i, e in enumerate(encoded) if all(len(t) == 1 for t in e.answer_ids.values())]
        multi = sorted(set(range(len(encoded))) - set(single))
        with self._torch.inference_mode():
            prompts = [encoded[i].prompt_ids for i in single]
            for batch in prefix_grouped_batches(prompts, self.max_batch_size, self.token_budget, self.min_shared_prefix):
                batch = [single[j] for j in batch]
                rows = self._next_token_logprobs([encoded[i].prompt_ids for i in batch])
                for row, i in zip(rows, batch, strict=True):
                    results[i] = OptionScores({a: float(row[t[0]]) for a, t in encoded[i].answer_ids.items()}, tokens=len(encoded[i].prompt_ids))
            if self.is_seq2seq:
                for i in multi:
                    results[i] = self._score_seq2seq_multi_token(encoded[i])
            else:
                for i in multi:
                    results[i] = self._score_answer_tree(encoded[i])
        return [with_lengths(r, e) for r, e in zip(results, encoded, strict=True) if r is not None]

    def _padded(self, sequences: list[list[int]], left: bool) -> tuple[Any, Any]:
        torch = self._torch
        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            span = slice(width - len(seq), width) if left else slice(0, len(seq))
            ids[row, span] = torch.tensor(seq)
            mask[row, span] = 1
        return ids.to(self.device), mask.to(self.device)

    def _next_token_logprobs(self, prompts: list[list[int]]) -> Any:
        """Full-vocabulary log-probabilities of the token after each prompt (one batch)."""
        torch = self._torch
        if self.is_seq2seq:
            ids, mask = self._padded(prompts, left=False)
            start = torch.full((len(prompts), 1), self.model.config.decoder_start_token_id, device=self.device)
            logits = self.model(input_ids=ids, attention_mask=mask, decoder_input_ids=start).logits[:, -1]
        else:
            shared = min(len(p) for p in prompts) - 1
            for p in prompts[1:]:
                shared = min(shared, common_prefix_length(prompts[0], p))
            if self.prefix_reuse and shared >= self.min_shared_prefix:
                return self._next_token_logprobs_after_prefix(prompts, shared)
            # Left padding puts every prompt's last token in the last column; position ids
            # follow the mask so padded rows see the same positions as unpadded ones.
            ids, mask = self._padded(prompts, left=True)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1).logits[:, -1]
        return torch.log_softmax(logits.float(), dim=-1).cpu()

    def _prefix_states(self, prefix: tuple[int, ...]) -> KVStates | None:
        """KV states of ``prefix`` (batch 1), extending the longest stored prefix of it; None if
        this model's cache cannot be reused this way (sliding-window or hybrid layers)."""
        from transformers.cache_utils import DynamicCache, DynamicLayer

        hit = self._prefixes.longest(prefix)
        if hit is not None and len(hit[0]) == len(prefix):
            return hit[1]
        done = len(hit[0]) if hit else 0
        kwargs: dict[str, Any] = {}
        if hit is not None:
            kwargs[self._cache_kwarg] = DynamicCache(ddp_cache_data=hit[1])
        ids = self._torch.tensor([prefix[done:]], device=self.device)
        positions = self._torch.arange(done, len(prefix), device=self.device)[None, :]
        out = self.model(input_ids=ids, position_ids=positions, use_cache=True, logits_to_keep=1, **kwargs)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        if not all(type(layer) is DynamicLayer for layer in cache.layers):
            self.prefix_reuse = False
            return None
        states = [(layer.keys, layer.values) for layer in cache.layers]
        self._prefixes.put(prefix, states)
        return states

    def _next_token_logprobs_after_prefix(self, prompts: list[list[int]], shared: int) -> Any:
        """Like :meth:`_next_token_logprobs`, with the first ``shared`` tokens (common to every
        prompt) run once. The suffixes are left-padded after the prefix; the mask hides the gap."""
        from transformers.cache_utils import DynamicCache

        torch = self._torch
        states = self._prefix_states(tuple(prompts[0][:shared]))
        if states is None:
            return self._next_token_logprobs(prompts)
        n = len(prompts)
        cache = DynamicCache(ddp_cache_data=states)
        layers: list[Any] = cache.layers  # all DynamicLayer (checked when the prefix was stored)
        for layer in layers:  # broadcast views: the forward's concatenation is the only batch-sized copy
            layer.keys, layer.values = layer.keys.expand(n, -1, -1, -1), layer.values.expand(n, -1, -1, -1)
        ids, mask = self._padded([p[shared:] for p in prompts], left=True)
        positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        full_mask = torch.cat([torch.ones((n, shared), dtype=mask.dtype, device=self.device), mask], dim=1)
        out = self.model(input_ids=ids, attention_mask=full_mask, position_ids=positions, logits_to_keep=1, **{self._cache_kwarg: cache})
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1).cpu()

    def _score_seq2seq_multi_token(self, encoded: Encoded) -> OptionScores:
        """Seq2seq, one request: encode once, teacher-force every answer in the decoder."""
        torch = self._torch
        scores = {answer: -math.inf for answer, target in encoded.answer_ids.items() if not target}
        live = [(a, t) for a, t in encoded.answer_ids.items() if t]
        if live:
            prompt = torch.tensor([encoded.prompt_ids], device=self.device)
            hidden = self.model.get_encoder()(input_ids=prompt).last_hidden_state.expand(len(live), -1, -1)
            start = self.model.config.decoder_start_token_id
            decoder_ids, decoder_mask = self._padded([[start, *t[:-1]] for _, t in live], left=False)
            logits = self.model(encoder_outputs=(hidden,), decoder_input_ids=decoder_ids, decoder_attention_mask=decoder_mask).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, (answer, target) in enumerate(live):
                scores[answer] = float(sum(logprobs[row, j, tok] for j, tok in enumerate(target)))
        return OptionScores({a: scores[a] for a in encoded.answer_ids}, tokens=len(encoded.prompt_ids) + sum(len(t) for _, t in live))

    def _score_answer_tree(self, encoded: Encoded) -> OptionScores:
        """Causal LM, one request: the prompt runs once; then every answer's tokens run in one row on
        top of its KV cache, as a prefix tree (shared answer prefixes once), each token attending to
        the prompt and its own ancestors only. No copy of the cache per answer: memory is one
        prompt's cache plus one row of at most the answers' total length."""
        torch = self._torch
        prompt = encoded.prompt_ids
        out = self.model(input_ids=torch.tensor([prompt], device=self.device), use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1).cpu()
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        tree = AnswerTree(encoded.answer_ids)
        later: Any = None
        if tree.tokens:
            n, p = len(tree.tokens), len(prompt)
            allowed = torch.zeros((n, p + n), dtype=torch.bool, device=self.device)
            allowed[:, :p] = True
            for node, ancestors in enumerate(tree.ancestors):
                allowed[node, [p + a for a in (*ancestors, node)]] = True
            mask = torch.zeros((1, 1, n, p + n), dtype=self.model.dtype, device=self.device)
            mask.masked_fill_(~allowed, torch.finfo(self.model.dtype).min)
            positions = torch.tensor([[p + d for d in tree.depths]], device=self.device)
            ids = torch.tensor([tree.tokens], device=self.device)
            later = self._tree_logprobs(ids, mask, positions, cache, tree.children)
        scores: dict[str, float] = {}
        for answer, target in encoded.answer_ids.items():
            if not target:
                scores[answer] = -math.inf
                continue
            score = float(first[target[0]])
            for node, token in zip(tree.path(target), target[1:], strict=True):
                score += later[node, token]
            scores[answer] = score
        return OptionScores(scores, tokens=len(prompt) + len(tree.tokens))

    def _tree_logprobs(self, ids: Any, mask: Any, positions: Any, cache: Any, children: dict[int, set[int]]) -> dict[tuple[int, int], float]:
        """Log-probability of each (node, next token) the tree needs. The vocabulary-wide logits are
        computed ``TREE_HEAD_ROWS`` nodes at a time, so memory stays bounded however many answers
        there are (a 173-template tree would otherwise hold 1,400 x 49k floats twice)."""
        torch = self._torch
        decoder, head = self.model.get_decoder(), self.model.get_output_embeddings()
        kwargs = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, self._cache_kwarg: cache}
        if decoder is None or head is None:  # no separate head: the whole logits at once
            rows = self.model(**kwargs).logits[0]
            heads: Any = lambda start, stop: rows[start:stop]  # noqa: E731
        else:
            hidden = decoder(**kwargs).last_hidden_state
            heads = lambda start, stop: head(hidden[:, start:stop])[0]  # noqa: E731
        found: dict[tuple[int, int], float] = {}
        n = int(ids.shape[1])
        for start in range(0, n, TREE_HEAD_ROWS):
            logprobs = torch.log_softmax(heads(start, min(n, start + TREE_HEAD_ROWS)).float(), dim=-1)
            for node in range(start, min(n, start + TREE_HEAD_ROWS)):
                for token in children.get(node, ()):
                    found[node, token] = float(logprobs[node - start, token])
        return found

    # ---- generation --------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuation of each prompt, cut at the first stop string (torch failures: BackendError)."""
        try:
            return self._generate(requests)
        except RuntimeError as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}") from exc

    def _generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        outputs: list[str] = []
        with self._torch.inference_mode():
            for start in range(0, len(requests), self.max_batch_size):
                batch = requests[start : start + self.max_batch_size]
                prompts = [self._ids(self._prompt_text(r.prompt, r.system)) for r in batch]
                ids, mask = self._padded(prompts, left=not self.is_seq2seq)
                generated = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max(r.max_new_tokens for r in batch),
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
                new = generated if self.is_seq2seq else generated[:, ids.shape[1] :]
                for request, row in zip(batch, new, strict=True):
                    text = str(self.tokenizer.decode(row[: request.max_new_tokens], skip_special_tokens=True)).lstrip()
                    outputs.append(stop_at(text, request.stop))
        return outputs

    def close(self) -> None:
        """Drop the model."""
        del self.model
