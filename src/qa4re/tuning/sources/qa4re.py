"""QA4RE-format items from relation data: the faithful QA4RE prompt of each labelled pair, its gold option the answer.

``qa4re:DATASET:SPLIT:PATH`` (e.g. ``qa4re:redocred-evidence:dev:../shared/data/redocred``) reads a
dataset split and renders every pair as the paper does: the dataset's schema and templates, type
constrained options in schema order, the NA option last. The item's prompt is that text; its
options are the statements in letter order; its answer the first option of the gold relation.
Relations named by ``exclude`` are taken out of the schema first: never an option, never an
answer (a pair whose gold is excluded is left out). A fixed 5 % of pairs (a hash of the id) is the
``heldout`` split, the rest ``train``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from qa4re.datasets import OnError, dataset_schema, get_dataset
from qa4re.datasets.base import hash_fraction
from qa4re.errors import ConfigError
from qa4re.extract.builder import PreparedPrompt, PromptBuilder
from qa4re.extract.config import ExtractorConfig, UnknownTypePair
from qa4re.schemas.model import RelationSchema
from qa4re.tuning.items import MCItem
from qa4re.types import ErrorRecord, RelationInstance

HELDOUT = 0.05  # the share of pairs kept for the held-out split


def without(schema: RelationSchema, exclude: frozenset[str]) -> RelationSchema:
    """``schema`` with the ``exclude``d relations gone from its relations, templates and type constraints."""
    if not exclude & set(schema.relations):
        return schema
    relations = tuple(r for r in schema.relations if r not in exclude or r == schema.na_relation)
    constraints = {pair: kept for pair, listed in schema.constraints.items() if (kept := tuple(r for r in listed if r not in exclude))}
    templates = {r: t for r, t in schema.templates.items() if r in relations}
    return replace(schema, relations=relations, templates=templates, constraints=constraints, name=f"{schema.name}-minus-{len(exclude)}")


def read_qa4re(spec: str, split: str, exclude: frozenset[str] = frozenset()) -> Iterator[MCItem | ErrorRecord]:
    """The QA4RE prompts of ``DATASET:SPLIT:PATH``'s labelled pairs as items (``split``: train or heldout)."""
    dataset, _, rest = spec.partition(":")
    data_split, _, path_text = rest.partition(":")
    if not dataset or not data_split or not path_text:
        raise ConfigError(f"qa4re:{spec}: expected qa4re:DATASET:SPLIT:PATH (e.g. qa4re:redocred-evidence:dev:../shared/data/redocred)")
    known = get_dataset(dataset)
    path = known.file(Path(path_text), data_split)
    schema = without(dataset_schema(dataset, data=Path(path_text), split=data_split), exclude)
    builder = PromptBuilder(schema, ExtractorConfig(unknown_type_pair=UnknownTypePair.NA))
    na = schema.na_relation
    for item in known.read(path, OnError.SKIP, data_split):
        if isinstance(item, ErrorRecord):
            yield item
            continue
        if (hash_fraction(f"{dataset}:{item.id}") < HELDOUT) != (split == "heldout") or not _usable(item, schema):
            continue
        prepared = builder.prepare(item)
        if not isinstance(prepared, PreparedPrompt):
            continue  # decided by rule (an unknown type pair) or refused: no question to ask
        options = prepared.prompt.options
        answer = next((k for k, o in enumerate(options) if o.relation == item.relation), None)
        if answer is None:
            continue  # the gold relation is not among the type-constrained candidates
        relations = tuple(sorted({o.relation for o in options} - {na}))
        text = prepared.prompt.text
        yield MCItem(f"{dataset}:{item.id}", text, tuple(o.statement for o in options), answer, f"qa4re:{dataset}", relations, text)


def _usable(item: RelationInstance, schema: RelationSchema) -> bool:
    return item.relation is not None and item.relation in schema.relations
