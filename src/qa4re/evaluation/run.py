"""Run an evaluation or a prediction job end to end: read, sample, predict, write, score."""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa4re.backends.base import Backend
from qa4re.backends.registry import backend_class
from qa4re.backends.settings import BackendSettings
from qa4re.datasets import OnError, dataset_file, dataset_schema, get_dataset, read_dataset, sample_positions
from qa4re.engines import Engine, ExtractorSpec, LocalEngine
from qa4re.errors import ConfigError, DataError
from qa4re.evaluation.diagnostics import AnswerDiagnostics
from qa4re.evaluation.html import MAX_EXAMPLES, write_evaluation_report
from qa4re.evaluation.memory import peak_rss_mib, reset_peak_rss
from qa4re.evaluation.report import compute_metrics, write_outputs
from qa4re.evaluation.results import EvaluationResult, RunRecord
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.methods import method_class
from qa4re.schemas.model import RelationSchema
from qa4re.types import AnswerSource, ErrorKind, ErrorRecord, Item, Output, Prediction, RelationInstance

Progress = Callable[[int], None]


@dataclass
class EvaluationSettings:
    """Everything ``qa4re evaluate`` takes: the data, the prompt settings (``config``) and the model."""

    dataset: str
    data: Path
    output: Path
    split: str = "test"
    limit: int | None = None
    schema: str | None = None
    templates: str | None = None
    demonstrations: Path | None = None
    on_error: OnError = OnError.STOP
    sample_seed: int | None = None  # seed of the --limit sample (default: ``config.seed``, which drives demonstrations and shuffles)
    config: ExtractorConfig = field(default_factory=ExtractorConfig)
    model: BackendSettings = field(default_factory=BackendSettings)


def estimated_cost(usage: Any, model: BackendSettings) -> float | None:
    """Cost of the tokens a server reported, from the prices given (None without prices)."""
    if model.price_per_million_input is None or model.price_per_million_output is None:
        return None
    return round(float(usage.prompt_tokens * model.price_per_million_input + usage.completion_tokens * model.price_per_million_output) / 1e6, 6)


def runs_on(method: str, model: str) -> bool:
    """Whether ``--model``'s backend has a capability that ``method`` needs (an ``nli:`` model runs the NLI method only, and only it)."""
    return bool(method_class(method).needs & backend_class(model).capabilities)


def tuning_exposure(model: BackendSettings, schema: RelationSchema) -> dict[str, Any] | None:
    """For a model qa4re tuned (an adapter, or a tuned model folder, with its card): the schema's relations its items showed."""
    folder = Path(model.adapter) if model.adapter else Path(model.model)
    card = folder / "card.json"
    if not card.is_file():
        return None
    data = json.loads(card.read_text(encoding="utf-8"))
    shown = set((data.get("relations") or {}).get("relations", []))
    seen = sorted(set(schema.positive_relations) & shown)
    return {"card": str(card), "seen": seen, "relations": len(schema.positive_relations), "unseen": len(schema.positive_relations) - len(seen)}


def counted(items: Iterable[Item]) -> int:
    """Number of items in a stream (reads it once; invalid records stop it by policy)."""
    return sum(1 for _ in items)


def sampled(items: Iterable[Item], positions: set[int] | None) -> Iterator[Item]:
    """The items at ``positions`` (all when None), in file order."""
    for position, item in enumerate(items):
        if positions is None or position in positions:
            yield item


def stop_on_data_errors(outputs: Iterable[Output], on_error: OnError) -> Iterator[Output]:
    """Raise on the first invalid-input record when the policy is STOP."""
    for output in outputs:
        if on_error is OnError.STOP and isinstance(output, ErrorRecord) and output.kind is ErrorKind.DATA:
            raise DataError(output.source, output.line, output.field, output.message)
        yield output


def _demonstrations(settings: EvaluationSettings) -> list[RelationInstance]:
    if settings.config.shots <= 0:
        return []
    # Evaluating train itself (e.g. a dev sample drawn from train) is fine: an example is never its own demonstration.
    path = settings.demonstrations or dataset_file(settings.dataset, settings.data, "train")
    return [
        i for i in read_dataset(settings.dataset, path, OnError.SKIP, "train" if settings.demonstrations is None else None) if isinstance(i, RelationInstance)
    ]


def run_settings(settings: EvaluationSettings, fingerprint: str) -> dict[str, Any]:
    """The run description stored with the results (enough to rerun it)."""
    described = asdict(settings)
    described["model"] = {**asdict(settings.model), "fingerprint": fingerprint}
    described["command"] = " ".join(sys.argv)
    described["python"] = platform.python_version()
    plain: dict[str, Any] = json.loads(json.dumps(described, default=str))
    return plain


def evaluate(
    settings: EvaluationSettings, backend: Backend | None = None, progress: Callable[[int], Progress] | None = None, engine: Engine | None = None
) -> EvaluationResult:
    """Evaluate one configuration; write predictions.jsonl, metrics.json and report.md.

    Args:
        settings: the run.
        backend: a ready backend (default: built from ``settings.model``, with the output cache).
        progress: called once with the number of examples; returns a per-example callback.
        engine: where the pipeline runs (default: this process, on ``backend``).
    """
    if backend is None and not runs_on(settings.config.method, settings.model.model):
        raise ConfigError("--method nli needs an NLI model (--model nli:FOLDER_OR_HUB_ID), and an nli: model runs only --method nli")
    schema = dataset_schema(settings.dataset, settings.schema, settings.templates, settings.data, settings.split)
    path = dataset_file(settings.dataset, settings.data, settings.split)
    total = counted(read_dataset(settings.dataset, path, settings.on_error, settings.split))
    positions = sample_positions(total, settings.limit, settings.config.seed if settings.sample_seed is None else settings.sample_seed)
    n_examples = total if positions is None else len(positions)
    advance = progress(n_examples) if progress else (lambda _: None)
    settings.output.mkdir(parents=True, exist_ok=True)
    pairs: Counter[tuple[str, str | None]] = Counter()
    diagnostics = AnswerDiagnostics(na_relation=schema.na_relation)
    n_errors = n_model_errors = n_fallback = n_rule = 0
    started = time.perf_counter()
    reset_peak_rss()
    texts: dict[str, tuple[str, tuple[int, int], tuple[int, int]]] = {}  # the sentences report.html shows (its first examples)
    items = remembered(sampled(read_dataset(settings.dataset, path, settings.on_error, settings.split), positions), texts)
    engine = engine or LocalEngine(backend)
    outputs = engine.map(items, ExtractorSpec(schema, settings.config, settings.model, tuple(_demonstrations(settings))))
    with (settings.output / "predictions.jsonl").open("w", encoding="utf-8") as out:
        for output in stop_on_data_errors(outputs, settings.on_error):
            out.write(json.dumps(output.to_json(), ensure_ascii=False) + "\n")
            if isinstance(output, ErrorRecord) or output.error is not None:
                n_errors += 1
                n_model_errors += isinstance(output, ErrorRecord) and output.kind is ErrorKind.MODEL
            if isinstance(output, Prediction):
                diagnostics.add(output)
                n_fallback += output.candidates_fallback and output.scoring is not AnswerSource.RULE
                n_rule += output.scoring is AnswerSource.RULE
            if output.gold is not None and not (isinstance(output, ErrorRecord) and output.kind is ErrorKind.DATA):
                if isinstance(output, Prediction):
                    pairs[output.matched_gold or output.gold, output.relation] += 1
                else:
                    pairs[output.gold, None] += 1
            advance(1)
    # The cost of the method: prompts scored per example, whether the cache answered them or not.
    prompts, tokens, usage = engine.requests, engine.tokens, engine.usage
    run = RunRecord(
        settings=run_settings(settings, engine.fingerprint), fingerprint=engine.fingerprint, seconds=round(time.perf_counter() - started, 2),
        model_calls=engine.calls, model_errors=n_model_errors,
        prompts_per_example=round(prompts / n_examples, 3) if prompts is not None and n_examples else None,
        usage=None if usage is None else {**asdict(usage), "estimated_cost": estimated_cost(usage, settings.model)},
        tokens_per_example=round(tokens / n_examples, 1) if tokens and n_examples else None, peak_rss_mib=peak_rss_mib(),
        tuning_exposure=tuning_exposure(settings.model, schema),
    )  # fmt: skip
    metrics = compute_metrics(
        pairs, schema, n_examples=n_examples, n_errors=n_errors, semeval=get_dataset(settings.dataset).official_scorer, n_fallback=n_fallback, n_rule=n_rule
    )
    result = EvaluationResult(metrics, diagnostics.summary(), run)
    write_outputs(settings.output, result)
    with (settings.output / "predictions.jsonl").open(encoding="utf-8") as lines:
        title = f"{settings.config.method} · {settings.dataset} {settings.split} · {engine.fingerprint}"
        write_evaluation_report(settings.output / "report.html", title, (json.loads(line) for line in lines), result.to_json(), texts)
    return result


def remembered(items: Iterable[Item], texts: dict[str, tuple[str, tuple[int, int], tuple[int, int]]]) -> Iterator[Item]:
    """``items`` as they are, noting the sentence and mention spans of the first ``MAX_EXAMPLES`` instances in ``texts``."""
    for item in items:
        if isinstance(item, RelationInstance) and len(texts) < MAX_EXAMPLES:
            texts[item.id] = (item.text, (item.subj.start, item.subj.end), (item.obj.start, item.obj.end))
        yield item
