"""The transformers backend on real models: the embedded SmolLM2 and a tiny local T5."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from conftest import GOLDEN
from qa4re.backends.base import GenerateRequest, ScoreRequest
from qa4re.backends.embedded import embedded_gguf, resolve_model
from qa4re.backends.transformers import PrefixStates, TransformersBackend, has_prefix_answers, prefix_grouped_batches
from qa4re.errors import BackendError
from qa4re.prompts.options import option_letter

GOLDEN_PROMPT = json.loads((GOLDEN / "retacred_person_person.json").read_text())["expected_prompt"]
LETTERS = tuple("ABCDEFGH")
SHORT = "Which letter comes first in the alphabet?\nOptions:\nA. a\nB. b\nOption:"


def manual_logprob(backend: TransformersBackend, prompt_ids: list[int], answer_ids: list[int]) -> float:
    """Log-likelihood of answer_ids after prompt_ids from one unpadded full forward pass."""
    ids = torch.tensor([prompt_ids + answer_ids])
    with torch.inference_mode():
        logprobs = torch.log_softmax(backend.model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(float(logprobs[len(prompt_ids) - 1 + j, t]) for j, t in enumerate(answer_ids))


def test_converted_weights_are_cached_on_disk() -> None:
    path, fingerprint = resolve_model("default")
    assert (Path(path) / "model.safetensors").is_file()
    assert resolve_model("default") == (path, fingerprint)
    assert embedded_gguf().name in fingerprint or "SmolLM2" in fingerprint


def test_batched_scores_equal_one_by_one_scores(embedded_backend: TransformersBackend) -> None:
    requests = [ScoreRequest(GOLDEN_PROMPT, LETTERS), ScoreRequest(SHORT, ("A", "B")), ScoreRequest(GOLDEN_PROMPT[:200] + "\nOption:", LETTERS)]
    batched = embedded_backend.score_options(requests)
    for request, together in zip(requests, batched, strict=True):
        alone = embedded_backend.score_options([request])[0]
        assert alone.logprobs == pytest.approx(together.logprobs, abs=2e-3)


def test_single_token_letters_match_a_full_forward_pass(embedded_backend: TransformersBackend) -> None:
    encoded = embedded_backend._encode(ScoreRequest(GOLDEN_PROMPT, LETTERS))
    scores = embedded_backend.score_options([ScoreRequest(GOLDEN_PROMPT, LETTERS)])[0]
    for letter in LETTERS:
        assert len(encoded.answer_ids[letter]) == 1
        assert scores.logprobs[letter] == pytest.approx(manual_logprob(embedded_backend, encoded.prompt_ids, encoded.answer_ids[letter]), abs=2e-3)


def test_multi_token_answers_are_scored_over_all_their_tokens(embedded_backend: TransformersBackend) -> None:
    answers = ("A", "AB", "Component-Whole(e1,e2)", "no_relation")
    request = ScoreRequest(SHORT, answers)
    encoded = embedded_backend._encode(request)
    assert len(encoded.answer_ids["Component-Whole(e1,e2)"]) > 1
    scores = embedded_backend.score_options([request, ScoreRequest(SHORT, ("A", "B"))])[0]
    for answer in answers:
        assert scores.logprobs[answer] == pytest.approx(manual_logprob(embedded_backend, encoded.prompt_ids, encoded.answer_ids[answer]), abs=2e-3)


def test_batched_multi_token_scores_equal_one_by_one_scores(embedded_completion_backend: TransformersBackend) -> None:
    answers = ("per:title", "AB", "no_relation")
    requests = [ScoreRequest(SHORT, answers), ScoreRequest(GOLDEN_PROMPT, answers), ScoreRequest("Relationship:", answers)]
    batched = embedded_completion_backend.score_options(requests)
    for request, together in zip(requests, batched, strict=True):
        encoded = embedded_completion_backend._encode(request)
        alone = {a: manual_logprob(embedded_completion_backend, encoded.prompt_ids, t) for a, t in encoded.answer_ids.items()}
        assert together.logprobs == pytest.approx(alone, abs=2e-3)


def test_chat_template_wraps_the_prompt_and_completion_mode_adds_a_space(
    embedded_backend: TransformersBackend, embedded_completion_backend: TransformersBackend
) -> None:
    chat = embedded_backend._prompt_text("Hi", "You are a helpful assistant.")
    assert chat.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>") and chat.endswith("<|im_start|>assistant\n")
    assert embedded_backend.fingerprint != embedded_completion_backend.fingerprint
    plain = embedded_completion_backend._encode(ScoreRequest(SHORT, ("A",)))
    assert embedded_completion_backend.tokenizer.decode(plain.answer_ids["A"]) == " A"


def test_answer_prefix_starts_the_assistant_turn_and_the_letter_follows_a_space(embedded_backend: TransformersBackend) -> None:
    chat = embedded_backend._prompt_text("Hi", "You are a helpful assistant.", "Option:")
    assert chat.endswith("<|im_start|>assistant\nOption:") and "<|im_start|>user\nHi<|im_end|>" in chat
    encoded = embedded_backend._encode(ScoreRequest(SHORT, ("A",), answer_prefix="Option:"))
    assert embedded_backend.tokenizer.decode(encoded.answer_ids["A"]) == " A"
    plain, prefixed = embedded_backend.score_options([ScoreRequest(GOLDEN_PROMPT, LETTERS), ScoreRequest(GOLDEN_PROMPT, LETTERS, answer_prefix="Option:")])
    assert plain.logprobs != prefixed.logprobs  # the letters are read at a different position


def test_a_prompt_past_the_context_is_a_backend_error_before_any_forward_pass(embedded_backend: TransformersBackend) -> None:
    assert embedded_backend.max_positions == 8192
    with pytest.raises(BackendError, match=r"the prompt has \d+ tokens, more than the model's context of 8192"):
        embedded_backend.score_options([ScoreRequest("word " * 9000, ("A", "B"))])


def test_embedded_model_letter_scores_are_pinned(embedded_backend: TransformersBackend) -> None:
    """Golden log-probabilities of the golden prompt (torch pinned in constraints.txt)."""
    scores = embedded_backend.score_options([ScoreRequest(GOLDEN_PROMPT, LETTERS)])[0].logprobs
    assert all(math.isfinite(v) and v < 0 for v in scores.values())
    assert sum(math.exp(v) for v in scores.values()) > 0.5  # the letters carry most of the next-token mass
    assert [round(scores[letter], 2) for letter in LETTERS] == pytest.approx(PINNED, abs=0.05)


PINNED = [-1.77, -3.38, -2.35, -1.38, -2.57, -3.54, -3.17, -5.12]


def test_generate_is_greedy_and_cut_at_the_stop_string(embedded_backend: TransformersBackend) -> None:
    texts = embedded_backend.generate([GenerateRequest(SHORT, 6), GenerateRequest(GOLDEN_PROMPT, 6)])
    assert len(texts) == 2 and all(isinstance(t, str) and "\n" not in t for t in texts)
    assert texts == embedded_backend.generate([GenerateRequest(SHORT, 6), GenerateRequest(GOLDEN_PROMPT, 6)])


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> TransformersBackend:
    """A tiny randomly initialised T5 with a word-level tokenizer, saved as a local folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    words = ["<pad>", "</s>", "<unk>", "A", "B", "C", "D", "E", "AB", "Option", ":", "Which", "letter", "is", "first", "?"]
    words += ["no_relation", "per", "title", "(", ")", ",", "e1", "e2", "Component", "-", "Whole"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]", "isolated")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(words), d_model=16, d_ff=32, d_kv=8, num_layers=2, num_heads=2, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    folder = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return TransformersBackend(str(folder), batch_size=2)


def test_seq2seq_models_get_the_bare_prompt_and_first_decoder_step_scores(tiny_t5: TransformersBackend) -> None:
    assert tiny_t5.is_seq2seq and not tiny_t5.use_chat_template
    requests = [ScoreRequest("Which letter is first ? Option :", ("A", "B", "C")), ScoreRequest("Option :", ("A", "B"))]
    batched = tiny_t5.score_options(requests)
    for request, together in zip(requests, batched, strict=True):
        assert tiny_t5.score_options([request])[0].logprobs == pytest.approx(together.logprobs, abs=1e-4)


def test_seq2seq_multi_token_answers_match_teacher_forcing(tiny_t5: TransformersBackend) -> None:
    request = ScoreRequest("Which letter is first ? Option :", ("A", "Component-Whole(e1,e2)", "no_relation"))
    scores = tiny_t5.score_options([request])[0].logprobs
    encoded = tiny_t5._encode(request)
    for answer, target in encoded.answer_ids.items():
        decoder = torch.tensor([[0, *target[:-1]]])
        with torch.inference_mode():
            logits = tiny_t5.model(input_ids=torch.tensor([encoded.prompt_ids]), decoder_input_ids=decoder).logits[0]
        expected = sum(float(torch.log_softmax(logits[j], -1)[t]) for j, t in enumerate(target))
        assert scores[answer] == pytest.approx(expected, abs=1e-4)


def test_shared_prefix_reuse_gives_the_scores_of_full_passes(embedded_backend: TransformersBackend) -> None:
    # Three prompts sharing a long prefix (like shared demonstrations), one that shares less.
    demos = GOLDEN_PROMPT[:600]
    requests = [ScoreRequest(demos + tail, ("A", "B")) for tail in ("\nA or B?\nOption:", "\nPick one: A, B.\nOption:", "\nB?\nOption:")]
    requests.append(ScoreRequest(SHORT, ("A", "B")))
    embedded_backend.clear_prefix_cache()
    for _ in range(2):  # the second round reuses the stored prefix states
        scores = embedded_backend.score_options(requests)
        for request, together in zip(requests, scores, strict=True):
            encoded = embedded_backend._encode(request)
            for answer, ids in encoded.answer_ids.items():
                assert together.logprobs[answer] == pytest.approx(manual_logprob(embedded_backend, encoded.prompt_ids, ids), abs=2e-3)
    assert embedded_backend._prefixes.longest(embedded_backend._encode(requests[0]).prompt_ids) is not None


def test_prompts_sharing_a_prefix_are_batched_together_then_by_length() -> None:
    common = [1, 2, 3]
    same_demos = [common + [7] * 20 + [i] * n for i, n in ((4, 5), (5, 1), (6, 3))]
    others = [common + [i] * n for i, n in ((8, 9), (9, 2), (10, 4))]
    batches = prefix_grouped_batches(same_demos + others, max_batch_size=2, token_budget=10_000, min_shared=16)
    assert batches == [[1, 2], [0], [4, 5], [3]]
    assert prefix_grouped_batches(others, max_batch_size=8, token_budget=20, min_shared=16) == [[1, 2], [0]]


def test_prefix_states_stay_under_their_byte_budget() -> None:
    import torch

    def kv(tokens: int) -> list[tuple[torch.Tensor, torch.Tensor]]:  # 2 layers x (keys, values), 4 bytes per token each
        return [(torch.zeros(tokens), torch.zeros(tokens)) for _ in range(2)]

    states = PrefixStates(max_bytes=160)  # 10 tokens of this toy model
    states.put((1, 2, 3, 4), kv(4))
    states.put((1, 2, 3, 4, 5, 6), kv(6))
    assert states.bytes == 160
    found = states.longest([1, 2, 3, 4, 5, 9])
    assert found is not None and found[0] == (1, 2, 3, 4)
    states.put((7, 8), kv(2))  # 12 tokens held: the least recently used entry goes
    assert states.bytes == 96 and states.longest([1, 2, 3, 4, 5, 6])[0] == (1, 2, 3, 4)  # type: ignore[index]
    assert states.longest([7, 8, 9]) is not None
    states.clear()
    assert states.bytes == 0 and states.longest([7, 8, 9]) is None


HUNDRED = tuple(option_letter(i) for i in range(100))  # A .. CV
HUNDRED_PROMPT = "Options:\n" + "\n".join(f"{letter}. relation {i}" for i, letter in enumerate(HUNDRED)) + "\nWhich option is true?"


def test_no_answer_of_a_hundred_option_prompt_is_a_prefix_of_another(embedded_backend: TransformersBackend) -> None:
    """SmolLM2 splits some letters past Z in two (AJ = A + J): then every answer is scored up to the end of the turn."""
    encoded = embedded_backend._encode(ScoreRequest(HUNDRED_PROMPT, HUNDRED))
    two_token = [a for a in HUNDRED if len(embedded_backend.tokenizer(a, add_special_tokens=False)["input_ids"]) > 1]
    assert two_token, "the test needs a tokenizer that splits some letters"
    assert not has_prefix_answers(encoded.answer_ids)
    assert all(t[-1] == embedded_backend.tokenizer.eos_token_id for t in encoded.answer_ids.values())
    (scores,) = embedded_backend.score_options([ScoreRequest(HUNDRED_PROMPT, HUNDRED)])
    assert all(math.isfinite(v) for v in scores.logprobs.values())
    # each two-token letter scores as a full pass over its tokens and the end of the turn does
    for letter in two_token[:3]:
        assert scores.logprobs[letter] == pytest.approx(manual_logprob(embedded_backend, encoded.prompt_ids, encoded.answer_ids[letter]), abs=2e-3)


@contextmanager
def rigged_toward(backend: TransformersBackend, target: list[int]) -> Iterator[None]:
    """The real model with its logits rigged: after the prompt, and after each token of ``target``, the next token of ``target`` is favoured."""
    successor = dict(zip(target, target[1:], strict=False))
    seen: dict[str, torch.Tensor] = {}
    embeddings = backend.model.get_input_embeddings()
    pre = embeddings.register_forward_pre_hook(lambda module, args: seen.__setitem__("ids", args[0]))

    def bump(module: torch.nn.Module, args: object, logits: torch.Tensor) -> torch.Tensor:
        ids = seen["ids"][:, -logits.shape[1] :]
        favoured = torch.tensor([[successor.get(int(t), target[0]) for t in row] for row in ids])
        return logits.scatter_add(-1, favoured[..., None], torch.full((*favoured.shape, 1), 60.0))

    post = backend.model.get_output_embeddings().register_forward_hook(bump)
    try:
        yield
    finally:
        pre.remove()
        post.remove()


def test_with_logits_rigged_toward_any_option_of_a_hundred_that_option_wins(embedded_backend: TransformersBackend) -> None:
    request = ScoreRequest("Pick one of the options A to CV.", HUNDRED)  # short: the answers' scoring is what is tested
    encoded = embedded_backend._encode(request)
    assert not has_prefix_answers(encoded.answer_ids)
    # Both ends, both sides of Z and AZ, and every ninth letter between: a fifth of the forward passes of all hundred.
    for letter in sorted({HUNDRED[i] for i in (0, 1, 24, 25, 26, 27, 51, 52, 98, 99, *range(0, 100, 9))}, key=HUNDRED.index):
        with rigged_toward(embedded_backend, encoded.answer_ids[letter]):
            (scores,) = embedded_backend.score_options([request])
        assert max(scores.logprobs, key=scores.logprobs.__getitem__) == letter


def test_preselection_keeps_the_top_candidates_of_the_sure_scores(embedded_backend: TransformersBackend, tmp_path: Path) -> None:
    """On the real model: the candidates kept are exactly the K best by SuRE's per-token template
    scores (a relation counts its best template), and the question offers them and NA only."""
    from conftest import FIXTURES
    from qa4re.backends.cached import CachingBackend
    from qa4re.datasets import OnError
    from qa4re.datasets.webred import read_webred
    from qa4re.extract.pipeline import Extractor, ExtractorConfig
    from qa4re.schemas.loader import load_schema
    from qa4re.types import Prediction, RelationInstance

    instance = next(i for i in read_webred(FIXTURES / "webred_small.jsonl", OnError.SKIP) if isinstance(i, RelationInstance))
    schema, backend = load_schema("webred"), CachingBackend(embedded_backend, tmp_path / "cache.sqlite")
    (sure,) = Extractor(schema, backend, ExtractorConfig(method="sure")).predict([instance])
    assert isinstance(sure, Prediction)
    best: dict[str, float] = {}
    for answer, relation in sure.letter_to_relation.items():
        if relation != schema.na_relation:
            best[relation] = max(best.get(relation, 0.0), sure.option_probabilities[answer])
    top = set(sorted(best, key=lambda r: -best[r])[:5])
    (chosen,) = Extractor(schema, backend, ExtractorConfig(preselect=5)).predict([instance])
    assert isinstance(chosen, Prediction) and set(chosen.letter_to_relation.values()) == top | {schema.na_relation}
    assert backend.calls == 2 and backend.requests == 3  # the ranking prompt is SuRE's own, answered from the cache
