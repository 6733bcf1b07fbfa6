"""One document pipeline: documents in, typed triples and failed pairs out, per document and in order.

``qa4re extract``, ``qa4re serve`` and the spaCy component are thin adapters over
:class:`DocumentExtractor`: it fills in entities with spaCy where a document has none, enumerates
the candidate pairs of each sentence, scores the pairs of a chunk of documents as one stream,
and groups the outputs back per document. A pair the model could not score is a
:class:`PairError`, written the same way by every adapter.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa4re.extract.ner import LazyPipeline, detect_entities
from qa4re.extract.pairs import Document, Pair, candidate_pairs, dropped_mentions
from qa4re.extract.pipeline import Extractor
from qa4re.fields import setting, validate
from qa4re.schemas.entity_types import IDENTITY, EntityTypeMap
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, ErrorRecord, Prediction

if TYPE_CHECKING:
    from spacy.language import Language


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity mention with character offsets into its document."""

    text: str
    start: int
    end: int
    type: str | None

    @classmethod
    def of(cls, sentence: str, entity: Entity, offset: int) -> Mention:
        return cls(sentence[entity.start : entity.end], entity.start + offset, entity.end + offset, entity.type)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "type": self.type}


def _pair_json(
    document_id: str, subject: Mention, relation: str | None, obj: Mention, confidence: float | None, evidence: str, with_document: bool
) -> dict[str, Any]:
    record: dict[str, Any] = {"doc_id": document_id} if with_document else {}
    return {**record, "subject": subject.to_json(), "relation": relation, "object": obj.to_json(), "confidence": confidence, "evidence": evidence}


@dataclass(frozen=True, slots=True)
class Triple:
    """(subject, relation, object) found in a document, with its confidence and evidence sentence."""

    document_id: str
    subject: Mention
    relation: str
    object: Mention
    confidence: float
    evidence: str

    def to_json(self, with_document: bool = True) -> dict[str, Any]:
        """The triple as JSON; ``with_document=False`` leaves out ``doc_id`` (a spaCy Doc is its own document)."""
        return _pair_json(self.document_id, self.subject, self.relation, self.object, self.confidence, self.evidence, with_document)


@dataclass(frozen=True, slots=True)
class PairError:
    """A candidate pair the model could not score, and why."""

    document_id: str
    subject: Mention
    object: Mention
    evidence: str
    message: str

    def to_json(self, with_document: bool = True) -> dict[str, Any]:
        """The failed pair as JSON: a triple's fields with no relation, the reason in ``error``."""
        record = _pair_json(self.document_id, self.subject, None, self.object, None, self.evidence, with_document)
        return {**record, "error": self.message, "kind": "model"}


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """The outcome of one document: how many pairs were scored, the triples kept and the failed pairs."""

    document: Document
    pairs: int
    triples: tuple[Triple, ...]
    errors: tuple[PairError, ...]
    dropped_mentions: int = 0  # mentions past --max-entities in their sentence, never paired


def _mentions(pair: Pair) -> tuple[Mention, Mention]:
    i = pair.instance
    return Mention.of(i.text, i.subj, pair.offset), Mention.of(i.text, i.obj, pair.offset)


def triple(pair: Pair, prediction: Prediction) -> Triple:
    """The triple of a scored pair."""
    subject, obj = _mentions(pair)
    return Triple(pair.document_id, subject, str(prediction.relation), obj, prediction.confidence, pair.instance.text)


def pair_error(pair: Pair, error: ErrorRecord) -> PairError:
    """The failure record of a pair."""
    subject, obj = _mentions(pair)
    return PairError(pair.document_id, subject, obj, pair.instance.text, error.message)


@dataclass(frozen=True)
class DocumentSettings:
    """What a document pipeline keeps, and its bounds; declared once for extract, the spaCy component and the API."""

    threshold: float = setting(0.0, "Keep triples whose confidence is at least this.", minimum=0, spacy=True)
    include_na: bool = setting(False, "Also write pairs predicted as the NA relation.", flag="--include-na", spacy=True)
    max_entities: int = setting(20, "Most mentions per sentence (first in text order).", minimum=1, spacy=True)
    max_pairs: int = setting(200, "Most candidate pairs per document.", minimum=1, spacy=True)

    def __post_init__(self) -> None:
        validate(self)


DEFAULTS = DocumentSettings()


def fact_key(t: Triple, schema: RelationSchema) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """What a triple says, whichever way round: a symmetric relation's pair unordered, an inverse as its counterpart."""
    subject, obj = (t.subject.start, t.subject.end), (t.object.start, t.object.end)
    relation = t.relation
    if relation in schema.symmetric:
        subject, obj = min(subject, obj), max(subject, obj)
    inverse = schema.inverses.get(relation)
    if inverse is not None and inverse < relation:  # the alphabetically first of the two names stands for both
        relation, subject, obj = inverse, obj, subject
    return relation, subject, obj


def reconcile(triples: tuple[Triple, ...], schema: RelationSchema) -> tuple[Triple, ...]:
    """One triple per fact: of ``A r B`` and ``B r A`` for a symmetric ``r``, or ``A r B`` and ``B inverse(r) A``,
    the more confident one (the first on ties), in the order the triples came."""
    if not schema.symmetric and not schema.inverses:
        return triples
    best: dict[tuple[str, tuple[int, int], tuple[int, int]], int] = {}
    for k, t in enumerate(triples):
        key = fact_key(t, schema)
        if key not in best or t.confidence > triples[best[key]].confidence:
            best[key] = k
    kept = set(best.values())
    return tuple(t for k, t in enumerate(triples) if k in kept)


class DocumentExtractor:
    """Turns documents into :class:`DocumentResult` records (or the document's :class:`ErrorRecord`), in input order.

    Args:
        extractor: the pair-level pipeline (schema, backend, prompt settings).
        settings: what it keeps and its bounds (threshold, include_na, max_entities per sentence,
            max_pairs per document), the same declaration for extract, serve, spaCy and the API.
        nlp: a spaCy pipeline for documents that come without entity spans.
        entity_types: label -> schema type map, for spaCy's labels and for given spans whose type the
            schema does not know (CoNLL ``PER`` -> ``PERSON``).
        chunk: documents whose pairs are scored together (memory stays bounded by it).
    """

    def __init__(
        self,
        extractor: Extractor,
        settings: DocumentSettings = DEFAULTS,
        *,
        nlp: Language | LazyPipeline | None = None,
        entity_types: EntityTypeMap = IDENTITY,
        chunk: int = 32,
    ) -> None:
        self.extractor = extractor
        self.schema = extractor.schema
        self.settings = settings
        self.nlp, self.entity_types, self.chunk = nlp, entity_types, chunk

    def keeps(self, prediction: Prediction) -> bool:
        """Whether a prediction becomes a triple: a relation, confident enough, NA only when asked."""
        if prediction.relation is None or prediction.confidence < self.settings.threshold:
            return False
        return self.settings.include_na or prediction.relation != self.schema.na_relation

    def extract(self, documents: Iterable[Document | ErrorRecord]) -> Iterator[DocumentResult | ErrorRecord]:
        """One result per input document, in order; unreadable documents pass through as error records."""
        stream: Iterable[Document | ErrorRecord] = documents
        if self.nlp is not None:
            stream = detect_entities(stream, self.nlp, self.entity_types, batch_size=self.chunk, known=self.schema.entity_types)
        iterator = iter(stream)
        while chunk := list(itertools.islice(iterator, self.chunk)):
            yield from self._chunk(chunk)

    def _typed(self, item: Document | ErrorRecord) -> Document | ErrorRecord:
        """Given spans typed with labels the schema lacks get the map's type (kept as they are otherwise)."""
        if isinstance(item, ErrorRecord) or self.entity_types.identity:
            return item
        known = self.schema.entity_types
        typed = tuple(e if e.type is None else Entity(e.start, e.end, self.entity_types.type_of(e.type, known) or e.type) for e in item.entities)
        return item if typed == item.entities else dataclasses.replace(item, entities=typed)

    def _chunk(self, chunk: list[Document | ErrorRecord]) -> Iterator[DocumentResult | ErrorRecord]:
        chunk = [self._typed(item) for item in chunk]
        pairs = [
            (k, pair)
            for k, item in enumerate(chunk)
            if isinstance(item, Document)
            for pair in candidate_pairs(
                item, self.schema, constraints=self.extractor.config.constraints, max_entities=self.settings.max_entities, max_pairs=self.settings.max_pairs
            )  # fmt: skip
        ]
        outputs: list[list[tuple[Pair, Prediction | ErrorRecord]]] = [[] for _ in chunk]
        for (k, pair), output in zip(pairs, self.extractor.predict(p.instance for _, p in pairs), strict=True):
            outputs[k].append((pair, output))
        for item, scored in zip(chunk, outputs, strict=True):
            if isinstance(item, ErrorRecord):
                yield item
                continue
            triples = reconcile(tuple(triple(p, o) for p, o in scored if isinstance(o, Prediction) and self.keeps(o)), self.schema)
            errors = tuple(pair_error(p, o) for p, o in scored if isinstance(o, ErrorRecord))
            yield DocumentResult(item, len(scored), triples, errors, dropped_mentions(item, self.settings.max_entities))
