"""Datasets by name: each a :class:`~qa4re.datasets.base.Dataset` record in its own module (entry-point group ``qa4re.datasets``).

Every reader streams :class:`~qa4re.types.RelationInstance` or :class:`~qa4re.types.ErrorRecord`
items and takes the split the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa4re.datasets.base import Dataset, OnError, sample_positions
from qa4re.errors import ConfigError
from qa4re.registry import Registry
from qa4re.schemas.loader import load_schema
from qa4re.schemas.model import RelationSchema
from qa4re.types import Item

DATASETS: Registry[Dataset] = Registry(
    "dataset",
    "qa4re.datasets",
    {
        "tacred": "qa4re.datasets.tacred:TACRED",
        "tacrev": "qa4re.datasets.tacred:TACREV",
        "retacred": "qa4re.datasets.tacred:RETACRED",
        "semeval": "qa4re.datasets.semeval:SEMEVAL",
        "redocred": "qa4re.datasets.redocred:REDOCRED",
        "redocred-evidence": "qa4re.datasets.redocred:REDOCRED_EVIDENCE",
        "webred": "qa4re.datasets.webred:WEBRED",
        "fewrel-unseen-5": "qa4re.datasets.fewrel:FEWREL_UNSEEN_5",
        "fewrel-unseen-10": "qa4re.datasets.fewrel:FEWREL_UNSEEN_10",
        "fewrel-unseen-15": "qa4re.datasets.fewrel:FEWREL_UNSEEN_15",
        "jsonl": "qa4re.datasets.jsonl:JSONL",
    },
)

__all__ = ["DATASETS", "Dataset", "Item", "OnError", "dataset_file", "dataset_schema", "get_dataset", "read_dataset", "sample_positions"]


def get_dataset(name: str) -> Dataset:
    """The dataset registered as ``name``."""
    return DATASETS.get(name)


def dataset_file(dataset: str, data: Path, split: str) -> Path:
    """The file of ``split``: ``data`` itself when it is a file, else the split's file inside it."""
    return get_dataset(dataset).file(data, split)


def read_dataset(dataset: str, path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream the items of one dataset file (``split`` matters only where one file holds several: WebRED)."""
    return get_dataset(dataset).read(path, on_error, split)


def dataset_schema(dataset: str, schema: str | None = None, templates: str | None = None, data: Path | None = None, split: str = "test") -> RelationSchema:
    """The schema of a run: ``schema`` if given, else the one the dataset's files define (``data``), else its built-in schema."""
    known = get_dataset(dataset)
    if schema is None and known.schema_for is not None and data is not None:
        return known.schema_for(known.file(data, split), split, templates)
    name = schema or known.schema
    if name is None:
        raise ConfigError(f"--schema is required for --dataset {dataset}")
    return load_schema(name, templates)
