"""Dataset readers: every reader streams RelationInstance or ErrorRecord items."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from qa4re.datasets.base import Item, OnError, sample_positions
from qa4re.datasets.jsonl import read_jsonl
from qa4re.datasets.redocred import read_redocred, read_redocred_evidence
from qa4re.datasets.semeval import SPLIT_FILES as SEMEVAL_SPLIT_FILES
from qa4re.datasets.semeval import read_semeval
from qa4re.datasets.tacred import read_tacred
from qa4re.datasets.webred import FILE as WEBRED_FILE
from qa4re.datasets.webred import read_webred
from qa4re.errors import DataError, UnknownNameError

Reader = Callable[[Path, OnError], Iterator[Item]]

# dataset name -> (reader, built-in schema name)
DATASETS: dict[str, tuple[Reader, str | None]] = {
    "tacred": (read_tacred, "tacred"),
    "tacrev": (read_tacred, "tacrev"),
    "retacred": (read_tacred, "retacred"),
    "semeval": (read_semeval, "semeval"),
    "redocred": (read_redocred, "redocred"),
    "redocred-evidence": (read_redocred_evidence, "redocred"),
    "webred": (read_webred, "webred"),
    "jsonl": (read_jsonl, None),
}

__all__ = ["DATASETS", "Item", "OnError", "dataset_file", "read_dataset", "sample_positions"]


def dataset_file(dataset: str, data: Path, split: str) -> Path:
    """The file of ``split``: ``data`` itself when it is a file, else the split's file inside it."""
    if dataset not in DATASETS:
        raise UnknownNameError("dataset", dataset, DATASETS)
    if data.is_file():
        return data
    if not data.is_dir():
        raise DataError(str(data), None, None, "no such file or directory")
    if dataset == "semeval":
        names = [SEMEVAL_SPLIT_FILES.get(split, split)]
    elif dataset == "webred":
        names = [WEBRED_FILE]  # one file; the reader takes the split
    elif dataset.startswith("redocred"):
        names = [f"{split}_sentence_re.jsonl.gz", f"{split}_sentence_re.jsonl"]
    else:
        names = [f"{split}.json", f"{split}.jsonl"]
    for name in names:
        if (data / name).is_file():
            return data / name
    raise DataError(str(data), None, None, f"no file for split '{split}' (looked for {', '.join(names)})")


def read_dataset(dataset: str, path: Path, on_error: OnError = OnError.STOP, split: str | None = None) -> Iterator[Item]:
    """Stream the items of one dataset file (``split`` matters only where one file holds several: WebRED)."""
    if dataset not in DATASETS:
        raise UnknownNameError("dataset", dataset, DATASETS)
    if dataset == "webred":
        return read_webred(path, on_error, split or "all")
    return DATASETS[dataset][0](path, on_error)
