"""The tuning loop: seeded items, an objective's loss, checkpoints a killed run resumes from.

Every random choice is a function of the seed and the example's number (which item, how many
options, where the answer goes, which wording), and the optimizer's state is saved with the
trainable weights, so a run killed and resumed from its last checkpoint ends with the same
weights as an uninterrupted run of the same seed on the same data and threads.
"""

from __future__ import annotations

import json
import random
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa4re.backends.device import device_kind, resolve_device
from qa4re.backends.embedded import resolve_model
from qa4re.errors import ConfigError
from qa4re.fields import declared
from qa4re.tuning.exposure import excluded_relations, refuse_exposed
from qa4re.tuning.heldout import HeldoutFigures, heldout_sets, measure
from qa4re.tuning.items import MCItem, SourceSpec, items_digest, read_items, require_items
from qa4re.tuning.objectives.base import OBJECTIVES, Example
from qa4re.tuning.render import draw, instructions, render_fixed
from qa4re.tuning.settings import TuneSettings

POOL_MAX_CHARS = 200  # distractor texts longer than this are not drawn (a long passage would crowd the prompt)
CHECKPOINT = "checkpoint"


@dataclass
class TuneReport:
    """What a run did: steps, items, time, losses and the held-out curve (also the card's body)."""

    steps: int = 0
    items: int = 0
    skipped_long: int = 0
    seconds: float = 0.0
    tokens: int = 0
    losses: list[float] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)


class ItemStream:
    """Example ``k``'s item and its rendering, a pure function of the seed and ``k``."""

    def __init__(self, per_source: Sequence[Sequence[MCItem]], settings: TuneSettings) -> None:
        self.settings = settings
        self.per_source = [list(s) for s in per_source if s]
        self.count = sum(len(s) for s in self.per_source)
        self.pool = sorted({t for s in self.per_source for i in s if i.prompt is None for t in i.options if len(t) <= POOL_MAX_CHARS})
        self._epochs: dict[int, list[MCItem]] = {}

    def _epoch(self, epoch: int) -> list[MCItem]:
        if epoch not in self._epochs:
            rng = random.Random(f"{self.settings.seed}:epoch:{epoch}")
            if self.settings.mix == "sequential":
                order: list[MCItem] = []
                for source in self.per_source:
                    part = list(source)
                    rng.shuffle(part)
                    order += part
            else:
                order = [i for s in self.per_source for i in s]
                rng.shuffle(order)
            self._epochs = {epoch: order}  # one epoch at a time: memory stays flat
        return self._epochs[epoch]

    def item(self, k: int) -> MCItem:
        return self._epoch(k // self.count)[k % self.count]

    def example(self, k: int, objective: Any, encoder: Any) -> Example | None:
        """Example ``k``; fewer options when the prompt is longer than ``max_tokens``; None when even the fewest are too long."""
        s = self.settings
        item, rng = self.item(k), random.Random(f"{s.seed}:item:{k}")
        if item.prompt is not None:  # a prompt already rendered (QA4RE-format items): shown as it is
            fixed: Example = objective.example(render_fixed(item), encoder)
            return fixed if len(fixed.input_ids) <= s.max_tokens else None
        template = rng.choice(instructions().train)
        most = s.max_options
        while True:
            example: Example = objective.example(draw(item, self.pool, rng, min(s.min_options, most), most, template), encoder)
            if len(example.input_ids) <= s.max_tokens:
                return example
            if most <= s.min_options:
                return None
            most = max(s.min_options, most // 2)


def _loaded_backend(settings: TuneSettings) -> Any:
    from qa4re.backends.transformers import TransformersBackend

    return TransformersBackend(settings.model, device=settings.device, dtype="float32", prefix_reuse=False, batch_size=16)


def _wrapped(model: Any, settings: TuneSettings, seq2seq: bool) -> Any:
    import torch

    if settings.full:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(settings.seed)
    config = LoraConfig(
        r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=0.0, target_modules=settings.targets,
        task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM,
    )  # fmt: skip
    with warnings.catch_warnings():  # peft asks transformers a deprecated question (is_gradient_checkpointing)
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(model, config)


def _trainable(model: Any) -> dict[str, Any]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def run_key(settings: TuneSettings, digest: str, identity: str) -> str:
    """What a checkpoint must match to be resumed: the settings that change the weights (``Setting.output``; not the
    step count, so a finished run can be continued), the data and the base model."""
    values = {d.name: getattr(settings, d.name) for d in declared(TuneSettings) if d.setting.output}
    return json.dumps({"settings": values, "data": digest, "model": identity}, sort_keys=True)


def _save_checkpoint(folder: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    import torch
    from safetensors.torch import save_file

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in _trainable(model).items()}, str(partial / "trainable.safetensors"))
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    (partial / "state.json").write_text(json.dumps(state, indent=1))
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)  # the checkpoint appears whole or not at all
    shutil.rmtree(old, ignore_errors=True)


def check_resumable(folder: Path, key: str) -> None:
    """Refuse, before any model loads, a checkpoint made with other settings, data or base model."""
    state_file = folder / "state.json"
    if state_file.is_file() and json.loads(state_file.read_text()).get("key") != key:
        raise ConfigError(f"{folder.parent}: holds a run with other settings, data or base model; tune into a new folder (or delete it)")


def _load_checkpoint(folder: Path, model: Any, optimizer: Any, key: str) -> dict[str, Any] | None:
    import torch
    from safetensors.torch import load_file

    state_file = folder / "state.json"
    if not state_file.is_file():
        return None
    check_resumable(folder, key)
    state: dict[str, Any] = json.loads(state_file.read_text())
    weights = load_file(str(folder / "trainable.safetensors"))
    params = _trainable(model)
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    return state


def _learning_rate(settings: TuneSettings, step: int) -> float:
    if settings.warmup_steps and step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    return settings.learning_rate


def _autocast(settings: TuneSettings, device: str) -> Any:
    import torch

    if settings.dtype == "bfloat16":
        return torch.autocast(device_type=device_kind(device), dtype=torch.bfloat16)
    return nullcontext()


def _batches(stream: ItemStream, settings: TuneSettings, step: int) -> Iterator[range]:
    per_step = settings.batch_size * settings.grad_accum
    for micro in range(settings.grad_accum):
        start = step * per_step + micro * settings.batch_size
        yield range(start, start + settings.batch_size)


def tune(
    settings: TuneSettings,
    sources: Sequence[SourceSpec],
    output: Path,
    heldout: SourceSpec | None = None,
    log: Callable[[str], None] = print,
    exclude: Sequence[str] = (),
) -> TuneReport:
    """Tune ``settings.model`` on the ``train`` items of ``sources``; the adapter (or model) and its card go to ``output``.

    A checkpoint in ``output`` made with the same settings, data and base model is resumed from.
    Held-out items (``heldout``, default: the first source's ``heldout`` split) are measured at each checkpoint.
    ``exclude`` names evaluation splits (``DATASET:PATH[:SPLIT]``) whose relations and their inverses
    the run must not see: relation sources leave them out, and an item that still shows one is refused.
    """
    import torch

    excluded = excluded_relations(exclude)
    output.mkdir(parents=True, exist_ok=True)
    per_source, errors = read_items(sources, "train", frozenset().union(*excluded.values()))
    with (output / "errors.jsonl").open("w", encoding="utf-8") as handle:
        for error in errors:
            handle.write(json.dumps(asdict(error)) + "\n")
    for error in errors[:5]:
        log(f"skipped: {error.message}")
    if len(errors) > 5:
        log(f"skipped {len(errors)} bad records in all (each in {output / 'errors.jsonl'})")
    train = [i for s in per_source for i in s]
    require_items(train, "training")
    refuse_exposed(train, excluded)
    exposure = {"relations": sorted({r for i in train for r in i.relations}), "excluded": {ref: sorted(r) for ref, r in excluded.items()}}
    held_spec = heldout or sources[0]
    held_items = read_items([held_spec], "heldout")[0][0] if settings.eval_items else []
    held_own, held_padded = heldout_sets(held_items, settings.eval_items, settings.eval_options, settings.seed)
    digest = items_digest(train)
    key = run_key(settings, digest, resolve_model(settings.model)[1])
    card = json.loads((output / "card.json").read_text()) if (output / "card.json").is_file() else {}
    if card.get("key") == key and card["report"]["steps"] >= settings.steps:
        log(f"{output}: already tuned with these settings, data and base model (card.json)")
        return TuneReport(**card["report"])
    check_resumable(output / CHECKPOINT, key)

    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    backend = _loaded_backend(settings)

    model = _wrapped(backend.model, settings, backend.is_seq2seq)
    backend.model = model  # the backend scores the held-out items with the tuned weights
    objective = OBJECTIVES.get(settings.objective)()
    if backend.is_seq2seq and settings.objective == "text":
        raise ConfigError("objective text: causal models only (it reads option texts as the reply)")
    pad_id = backend.tokenizer.pad_token_id
    stream = ItemStream(per_source, settings)
    params = list(_trainable(model).values())
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)

    report = TuneReport()
    state = _load_checkpoint(output / CHECKPOINT, model, optimizer, key)
    if state is not None:
        report = TuneReport(**state["report"])
        log(f"resuming at step {report.steps} of {settings.steps}")

    def checkpoint() -> None:
        model.eval()
        if held_own:
            figures: HeldoutFigures = measure(backend, held_own, held_padded, settings.eval_options)
            report.curve.append({"step": report.steps, "items": report.items, **figures.as_dict()})
            log(f"step {report.steps}: {figures.line()}")
        _save_checkpoint(output / CHECKPOINT, model, optimizer, {"key": key, "report": asdict(report)})
        if settings.snapshots and report.steps:
            _save_weights(output / f"step-{report.steps}", model, backend, settings)

    if state is None and held_own:
        checkpoint()  # the untuned model's figures are the curve's first point
    started = time.monotonic() - report.seconds
    session_start, session_items = time.monotonic(), 0
    while report.steps < settings.steps:
        step = report.steps
        model.train()
        torch.manual_seed(settings.seed * 1_000_003 + step)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(settings, step)
        total = 0.0
        for micro in _batches(stream, settings, step):
            examples = [e for k in micro if (e := stream.example(k, objective, backend.encoder)) is not None]
            report.skipped_long += len(micro) - len(examples)
            if not examples:
                continue
            with _autocast(settings, device):
                loss = objective.loss(model, examples, pad_id)
            (loss / settings.grad_accum).backward()
            total += float(loss.detach()) / settings.grad_accum
            report.items += len(examples)
            session_items += len(examples)
            report.tokens += sum(len(e.input_ids) for e in examples)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        report.steps += 1
        report.losses.append(round(total, 5))
        report.seconds = time.monotonic() - started
        rate = session_items / max(1e-9, time.monotonic() - session_start)
        if report.steps % max(1, settings.checkpoint_every // 5) == 0 or report.steps == settings.steps:
            left = (settings.steps - report.steps) * settings.batch_size * settings.grad_accum / max(rate, 1e-9)
            recent = report.losses[-max(1, settings.checkpoint_every // 5) :]
            log(f"step {report.steps}/{settings.steps}  loss {sum(recent) / len(recent):.4f}  {rate:.2f} items/s  about {left / 60:.1f} min left")
        if report.steps % settings.checkpoint_every == 0 or report.steps == settings.steps:
            checkpoint()
    _finish(output, model, backend, settings, key, sources, digest, backend.fingerprint, report, len(train), len(errors), held_spec, len(held_own), exposure)
    return report


def _save_weights(folder: Path, model: Any, backend: Any, settings: TuneSettings) -> None:
    """The adapter (``--adapter FOLDER``) or, for full tuning, a model folder (``--model FOLDER``)."""
    model.save_pretrained(str(folder))
    if settings.full:
        backend.tokenizer.save_pretrained(str(folder))


def _finish(
    output: Path, model: Any, backend: Any, settings: TuneSettings, key: str, sources: Sequence[SourceSpec], digest: str,
    base_fingerprint: str, report: TuneReport, n_train: int, n_errors: int, held_spec: SourceSpec, n_held: int, exposure: dict[str, Any],
) -> None:  # fmt: skip
    from qa4re.tuning.card import write_card

    _save_weights(output, model, backend, settings)
    write_card(output, key, settings, [str(s) for s in sources], digest, base_fingerprint, report, n_train, n_errors, str(held_spec), n_held, exposure)
