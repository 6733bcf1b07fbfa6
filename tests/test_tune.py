"""``qa4re tune`` end to end on the embedded model: a few steps, a card, resuming after SIGKILL, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers import qa4re

QUESTIONS = [
    ("Which animal barks?", ["a dog", "a cat", "a fish", "a bird"], 0),
    ("What colour is the sky on a clear day?", ["green", "blue", "red"], 1),
    ("How many legs has a spider?", ["six", "four", "eight", "ten"], 2),
    ("Which is a fruit?", ["a carrot", "an apple"], 1),
    ("What melts ice?", ["heat", "cold", "darkness"], 0),
    ("Which planet is closest to the sun?", ["Venus", "Earth", "Mars", "Mercury"], 3),
]


def items_file(path: Path, extra: Sequence[bytes] = ()) -> Path:
    lines = [json.dumps({"id": f"t{i}", "question": q, "options": o, "answer": a}) for i, (q, o, a) in enumerate(QUESTIONS)]
    lines += [json.dumps({"id": f"h{i}", "question": q, "options": o, "answer": a, "split": "heldout"}) for i, (q, o, a) in enumerate(QUESTIONS[:3])]
    path.write_bytes("\n".join(lines).encode() + b"\n" + b"".join(extra))
    return path


SMALL = ("--steps", "6", "--batch-size", "2", "--checkpoint-every", "2", "--max-options", "6", "--max-tokens", "256", "--seed", "3")


def tensors(folder: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_tune_writes_an_adapter_and_its_card_and_the_adapter_is_used(tmp_path: Path) -> None:
    data = items_file(tmp_path / "items.jsonl")
    out = tmp_path / "adapter"
    result = qa4re("tune", "--items", data, "--items", f"binding:{data}", "--output", out, *SMALL, "--eval-items", "3", "--eval-options", "5")
    log = result.stderr
    assert "step 0: held-out own options" in log and "step 6: held-out" in log and "items/s" in log and "min left" in log
    card = json.loads((out / "card.json").read_text())
    assert card["kind"] == "lora-adapter" and card["base_fingerprint"].startswith("transformers:embedded:SmolLM2-135M-Instruct")
    assert card["data"]["train_items"] == 6 + 6 and card["data"]["sha256"] and card["report"]["steps"] == 6
    assert [p["step"] for p in card["report"]["curve"]] == [0, 2, 4, 6] and card["heldout"]["items"] == 3
    assert "MMLU" in (out / "README.md").read_text() and (out / "checkpoint" / "state.json").is_file()
    again = qa4re("tune", "--items", data, "--items", f"binding:{data}", "--output", out, *SMALL, "--eval-items", "3", "--eval-options", "5")
    assert "already tuned" in again.stderr
    run = qa4re("evaluate", "--dataset", "semeval", "--data", Path(__file__).parent / "fixtures" / "semeval_small", "--limit", "2",
                "--output", tmp_path / "eval", "--cache", tmp_path / "c.sqlite", "--adapter", out)  # fmt: skip
    assert "+adapter:" in json.loads((tmp_path / "eval" / "metrics.json").read_text())["run"]["model"]["fingerprint"], run.stdout


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_the_same_adapter(tmp_path: Path) -> None:
    data = items_file(tmp_path / "items.jsonl")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    args = ["tune", "--items", str(data), *SMALL, "--eval-items", "0", "--threads", "1"]
    qa4re(*args, "--output", whole)
    process = subprocess.Popen([sys.executable, "-m", "qa4re", *args, "--output", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    state = killed / "checkpoint" / "state.json"
    deadline = time.time() + 300
    while not (state.is_file() and json.loads(state.read_text())["report"]["steps"] >= 2) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    steps = json.loads(state.read_text())["report"]["steps"]
    assert 2 <= steps < 6, "the run ended before it could be killed mid-way"
    resumed = qa4re(*args, "--output", killed)
    assert f"resuming at step {steps} of 6" in resumed.stderr
    first, second = tensors(whole), tensors(killed)
    assert first.keys() == second.keys() and all(bool((first[k] == second[k]).all()) for k in first)  # type: ignore[attr-defined]
    assert json.loads((killed / "card.json").read_text())["report"]["losses"] == json.loads((whole / "card.json").read_text())["report"]["losses"]


def test_bad_items_are_error_records_and_the_run_goes_on(tmp_path: Path) -> None:
    bad = [b'{"question": "q", "options": ["a"], "answer": 0}\n', b'{"question": "q", "options": ["a", "b"], "answer": 5}\n', b"\xff\xfe\n",
           b'{"options": ["a", "b"], "answer": 0}\n', b'{"question": "q", "options": [], "answer": 0}\n']  # fmt: skip
    data = items_file(tmp_path / "items.jsonl", bad)
    out = tmp_path / "adapter"
    result = qa4re("tune", "--items", data, "--output", out, "--steps", "1", "--batch-size", "2", "--eval-items", "0", "--max-options", "4")
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [e["line"] for e in errors] == [10, 11, 12, 13, 14] and [e["field"] for e in errors] == ["options", "answer", None, "question", "options"]
    assert f"{data}:10: options" in result.stderr and (out / "adapter_model.safetensors").is_file()
    longer = qa4re("tune", "--items", data, "--output", out, "--steps", "2", "--batch-size", "2", "--eval-items", "0", "--max-options", "4")
    assert "resuming at step 1 of 2" in longer.stderr and json.loads((out / "card.json").read_text())["report"]["steps"] == 2
    other = qa4re("tune", "--items", data, "--output", out, "--steps", "2", "--batch-size", "2", "--eval-items", "0", "--seed", "9", check=False)
    assert other.returncode == 2
    assert other.stderr.strip().splitlines()[-1].startswith(f"error: {out}: holds a run with other settings, data or base model; tune into")


@pytest.mark.parametrize("items", ["missing.jsonl", "mcqa:missing.jsonl"])
def test_a_missing_items_file_is_one_line_and_exit_2(tmp_path: Path, items: str) -> None:
    result = qa4re("tune", "--items", items, "--output", tmp_path / "o", check=False)
    assert result.returncode == 2 and result.stderr.strip() == "error: missing.jsonl: no such file"


@pytest.mark.slow
def test_full_tuning_writes_a_model_folder_that_loads_as_a_model(tmp_path: Path) -> None:
    data = items_file(tmp_path / "items.jsonl")
    out = tmp_path / "model"
    qa4re("tune", "--items", data, "--output", out, "--full", "--steps", "1", "--batch-size", "2", "--eval-items", "0", "--max-options", "4")
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    refused = qa4re("evaluate", "--dataset", "semeval", "--data", Path(__file__).parent / "fixtures" / "semeval_small", "--output", tmp_path / "e",
                    "--adapter", out, check=False)  # fmt: skip
    assert refused.returncode == 2 and "a fully tuned model is --model FOLDER" in refused.stderr


@pytest.mark.slow
def test_a_tiny_t5_tunes_with_lora_and_fully(tmp_path: Path, tiny_t5_folder: Path) -> None:
    from qa4re.tuning import SourceSpec, TuneSettings, tune

    data = items_file(tmp_path / "items.jsonl")
    for full in (False, True):
        settings = TuneSettings(model=str(tiny_t5_folder), full=full, lora_targets="q,v", steps=2, batch_size=2, eval_items=2, eval_options=4, max_options=4)
        report = tune(settings, [SourceSpec("mcqa", str(data))], tmp_path / f"t5-{full}", log=lambda line: None)
        assert report.steps == 2 and all(loss > 0 for loss in report.losses) and len(report.curve) == 2


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["content", "text"])
def test_every_objective_trains_a_step(tmp_path: Path, objective: str) -> None:
    from qa4re.backends.transformers import TransformersBackend
    from qa4re.tuning.objectives.base import IGNORE, OBJECTIVES
    from qa4re.tuning.render import instructions, render

    data = items_file(tmp_path / "items.jsonl")
    qa4re("tune", "--items", data, "--output", tmp_path / "a", "--objective", objective, "--steps", "1", "--batch-size", "2", "--eval-items", "0",
          "--max-options", "4")  # fmt: skip
    losses = json.loads((tmp_path / "a" / "card.json").read_text())["report"]["losses"]
    assert len(losses) == 1 and losses[0] > 0
    encoder = TransformersBackend("default").encoder
    item = render("q", "Which animal barks?", ["a cat", "a dog"], 1, instructions().train[0])
    example = OBJECTIVES.get(objective)().example(item, encoder)
    if objective == "content":  # the letter where the backends read it, then the option's text, then the end of the turn
        answer = [t for t in example.labels if t != IGNORE]
        assert answer[0] == example.letter_ids[1] and encoder.tokenize(" dog", False)[-1] in answer and answer[-1] in encoder.end_ids
    else:  # no label: the targets come from the model's reading of the two option texts
        assert all(t == IGNORE for t in example.labels) and len(example.reply_ids) == 2 and example.letter_ids


def test_a_directory_given_as_items_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = qa4re("tune", "--items", f"binding:{tmp_path}", "--output", tmp_path / "o", check=False)
    assert result.returncode == 2 and result.stderr.strip() == f"error: {tmp_path}: is a directory, not an input file"


def fewrel_folder(root: Path) -> Path:
    """A FewRel-shaped folder whose unseen test relations are 'place of birth' and 'spouse'."""
    folder = root / "fewrel"
    (folder / "splits").mkdir(parents=True)
    sentence = {"tokens": ["Oslo", "is", "in", "Norway", "."], "h": ["oslo", "Q1", [[0]]], "t": ["norway", "Q2", [[3]]]}
    (folder / "val_wiki.json").write_text(json.dumps({"P19": [sentence], "P26": [sentence]}))
    names = {"P19": ["place of birth", "..."], "P26": ["spouse", "husband or wife"]}
    (folder / "pid2name.json").write_text(json.dumps(names))
    (folder / "splits" / "fewrel_rel2id_5_ori.json").write_text(json.dumps({"train": {}, "eval": {}, "test": {"P19": 0, "P26": 1}}))
    (folder / "zett_templates.tsv").write_text("P26\tspouse\t[X] is married to [Y] .\n")
    return folder


def test_qa4re_items_are_the_faithful_prompts_and_leave_out_the_excluded_relations_and_their_inverses(tmp_path: Path) -> None:
    from qa4re.datasets import read_dataset
    from qa4re.extract.builder import PreparedPrompt, PromptBuilder
    from qa4re.extract.config import ExtractorConfig, UnknownTypePair
    from qa4re.schemas.loader import load_schema
    from qa4re.tuning.exposure import excluded_relations
    from qa4re.tuning.items import SourceSpec, read_items

    data = Path(__file__).parent / "fixtures" / "redocred_small.jsonl"
    spec = SourceSpec.parse(f"qa4re:redocred:test:{data}")
    (items,), errors = read_items([spec], "train")
    builder = PromptBuilder(load_schema("redocred"), ExtractorConfig(unknown_type_pair=UnknownTypePair.NA))
    instances = {f"redocred:{i.id}": i for i in read_dataset("redocred", data)}
    assert len(items) >= 5 and not errors
    for item in items:
        prepared = builder.prepare(instances[item.id])
        assert isinstance(prepared, PreparedPrompt) and item.prompt == prepared.prompt.text  # what qa4re evaluate asks, byte for byte
        assert prepared.prompt.options[item.answer].relation == instances[item.id].relation
    excluded = excluded_relations([f"fewrel-unseen-5:{fewrel_folder(tmp_path)}"])
    (kept,), _ = read_items([spec], "train", frozenset().union(*excluded.values()))
    blind = {"place of birth", "spouse"}
    assert blind <= set().union(*excluded.values()) and any("place of birth" in i.relations for i in items)
    assert all(not set(i.relations) & blind and not any("was born in" in o for o in i.options) for i in kept)
    assert len(kept) == len(items) - 1  # the one pair whose gold relation is excluded


def test_a_run_whose_items_show_an_evaluated_relation_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    record = {"id": "r1", "question": "Anna and Oslo?", "options": ["Anna was born in Oslo", "no relation"], "answer": 0, "relations": ["place of birth"]}
    data.write_text(json.dumps(record) + "\n")
    result = qa4re("tune", "--items", data, "--output", tmp_path / "out", "--exclude-relations-of", f"fewrel-unseen-5:{fewrel_folder(tmp_path)}", check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "relation 'place of birth' of fewrel-unseen-5:" in result.stderr and "item r1" in result.stderr
    assert not (tmp_path / "out" / "checkpoint").exists()


@pytest.mark.slow
def test_tuning_on_qa4re_items_records_the_relations_it_saw_and_kept_out(tmp_path: Path) -> None:
    data = Path(__file__).parent / "fixtures" / "redocred_small.jsonl"
    heldout = items_file(tmp_path / "mc.jsonl")
    out = tmp_path / "adapter"
    blind = f"fewrel-unseen-5:{fewrel_folder(tmp_path)}"
    qa4re("tune", "--items", f"qa4re:redocred:test:{data}", "--heldout", heldout, "--output", out, "--steps", "2", "--batch-size", "2",
          "--checkpoint-every", "2", "--eval-items", "2", "--max-tokens", "512", "--exclude-relations-of", blind)  # fmt: skip
    card = json.loads((out / "card.json").read_text())
    assert "date of birth" in card["relations"]["relations"] and "place of birth" not in card["relations"]["relations"]
    assert list(card["relations"]["excluded"]) == [f"fewrel-unseen-5:{tmp_path / 'fewrel'}"] and card["report"]["items"] == 4
    assert "Relations seen in tuning" in (out / "README.md").read_text()
    run = qa4re("evaluate", "--dataset", "redocred", "--data", data, "--limit", "2", "--output", tmp_path / "eval", "--cache", tmp_path / "c.sqlite",
                "--adapter", out)  # fmt: skip
    exposure = json.loads((tmp_path / "eval" / "metrics.json").read_text())["run"]["tuning_exposure"]
    assert "date of birth" in exposure["seen"] and "place of birth" not in exposure["seen"] and exposure["relations"] == 96
    assert "relations seen in tuning" in run.stdout and f"{len(exposure['seen'])} of 96" in run.stdout


def test_an_excluded_relation_brings_its_own_inverses_only() -> None:
    from qa4re.tuning.exposure import with_inverses

    assert with_inverses(["father"]) == {"father", "child"}  # not "mother", the inverse of child
    assert with_inverses(["child"]) == {"child", "father", "mother"}
    assert with_inverses(["part of", "sport"]) == {"part of", "has part", "sport"}
