"""File jobs over the pipelines: records in, JSONL (and CSV) out, with counts and hints a user can act on.

``qa4re predict`` and ``qa4re extract`` adapt these to the command line (options, progress bar,
console); the service reuses the hints. Every input ends up as an output line: a prediction, a
triple, or an error record that keeps its id.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa4re.extract.documents import DocumentResult, Triple
from qa4re.extract.pairs import Document
from qa4re.extract.pipeline import Output
from qa4re.types import ErrorRecord

Advance = Callable[[int], None]
LONG_UNSPLIT = 2000  # characters: a longer document without sentence spans is worth a warning
NO_TYPE = "(no type)"


def _line(record: Any) -> str:
    return json.dumps(record.to_json(), ensure_ascii=False) + "\n"


@dataclass
class PredictSummary:
    """What a prediction job wrote."""

    records: int = 0
    errors: int = 0


def predict_file(outputs: Iterable[Output], output: Path, advance: Advance = lambda n: None) -> PredictSummary:
    """One JSONL line per item (a pipeline's prediction or error record, as it streams them), in input order."""
    summary = PredictSummary()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out:
        for record in outputs:
            out.write(_line(record))
            summary.records += 1
            summary.errors += isinstance(record, ErrorRecord)
            advance(1)
    return summary


CSV_COLUMNS = ["doc_id", "subject", "subject_start", "subject_end", "subject_type", "relation", "object", "object_start", "object_end", "object_type",
               "confidence", "evidence"]  # fmt: skip


def csv_row(found: Triple) -> list[object]:
    """One CSV row of a triple (columns as CSV_COLUMNS)."""
    s, o = found.subject, found.object
    return [found.document_id, s.text, s.start, s.end, s.type or "", found.relation, o.text, o.start, o.end, o.type or "", f"{found.confidence:.4f}",
            found.evidence]  # fmt: skip


def no_pairs_reason(mention_types: Counter[str], known_types: set[str]) -> str:
    """Why documents with these mentions (type -> count; ``NO_TYPE`` for untyped) gave no candidate pair.

    ``known_types`` are the schema's constrained entity types (empty: constraints are off).
    """
    if not mention_types:
        return "no candidate pairs: no entity mentions; give entity spans, or a spaCy pipeline that finds them"
    if sum(mention_types.values()) < 2:
        return "no candidate pairs: fewer than two entity mentions"
    if NO_TYPE in mention_types and known_types:
        return (f"no candidate pairs: {mention_types[NO_TYPE]} mentions have no type, and the schema's type constraints need types; "
                "give each entity a type, or turn the constraints off (--no-constraints)")  # fmt: skip
    unknown = sorted(t for t in mention_types if known_types and not set(t.split("|")) <= known_types)
    if unknown:
        return (f"no candidate pairs: the entity types {', '.join(unknown)} are not in the schema's constraints (it knows "
                f"{', '.join(sorted(known_types)[:12])}{', ...' if len(known_types) > 12 else ''}); map them with --entity-types FILE, "
                "or turn the constraints off (--no-constraints)")  # fmt: skip
    return "no candidate pairs: no sentence holds two mentions whose type pair the schema relates"


def mention_types(document: Document) -> Counter[str]:
    """Entity type -> number of mentions in ``document``."""
    return Counter(e.type or NO_TYPE for e in document.entities)


@dataclass
class ExtractSummary:
    """Counts over an extraction job, and the hints they call for."""

    documents: int = 0
    pairs: int = 0
    triples: int = 0
    errors: int = 0
    dropped_mentions: int = 0
    unsplit: int = 0  # documents over LONG_UNSPLIT characters without sentence spans
    mention_types: Counter[str] = field(default_factory=Counter)

    def add(self, result: DocumentResult | ErrorRecord) -> None:
        """Count one document's outcome."""
        if isinstance(result, ErrorRecord):
            self.errors += 1
            return
        self.documents += 1
        self.pairs += result.pairs
        self.triples += len(result.triples)
        self.errors += len(result.errors)
        self.dropped_mentions += result.dropped_mentions
        self.unsplit += not result.document.sentences and len(result.document.text) > LONG_UNSPLIT
        self.mention_types.update(mention_types(result.document))

    def hints(self, known_types: set[str], source: str) -> list[str]:
        """Why the job scored nothing, or less than it could, in words a newcomer can act on."""
        hints = []
        if self.dropped_mentions:
            hints.append(f"{self.dropped_mentions} mentions were left out because their sentence holds more than --max-entities; raise it to pair them")
        if self.unsplit:
            hints.append(f"{self.unsplit} documents over {LONG_UNSPLIT} characters have no sentence spans: each is one sentence, so its "
                         "pairs cross sentences and the evidence is the whole text (give \"sentences\", or leave out \"entities\" to let spaCy "
                         "split it)")  # fmt: skip
        if not self.documents:
            hints.append(f"{source} holds no documents" if not self.errors else "no document could be read; see the error lines in the output")
        elif not self.pairs:
            hints.append(no_pairs_reason(self.mention_types, known_types))
        return hints


def extract_file(
    results: Iterable[DocumentResult | ErrorRecord], output: Path, csv_output: Path | None = None, advance: Advance = lambda n: None
) -> ExtractSummary:
    """Triples (JSONL, and CSV if asked) of every document result, as the document pipeline streams
    them; failed pairs and unreadable lines as error lines."""
    summary = ExtractSummary()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out, csv_output.open("w", newline="", encoding="utf-8") if csv_output else nullcontext() as csv_file:
        writer = csv.writer(csv_file) if csv_file else None
        if writer:
            writer.writerow(CSV_COLUMNS)
        for result in results:
            advance(1)  # a document counts once its pairs are scored
            records: list[Any] = [result] if isinstance(result, ErrorRecord) else [*result.triples, *result.errors]
            out.writelines(_line(r) for r in records)
            if writer and not isinstance(result, ErrorRecord):
                writer.writerows(csv_row(t) for t in result.triples)
            summary.add(result)
    return summary
