"""Entity mentions and sentences from spaCy, for documents that come without entity spans.

spaCy is an optional extra (``pip install 'qa4re[spacy]'``). Any pipeline that sets ``doc.ents``
works: an installed package (``python -m spacy download en_core_web_sm``), or a pipeline saved to
a folder. Sentences come from the pipeline when it sets them (parser, senter, sentencizer); else
the whole text is one sentence. Entity labels become schema types through an
:class:`~qa4re.schemas.entity_types.EntityTypeMap`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from qa4re.errors import BackendUnavailable
from qa4re.extract.pairs import Document
from qa4re.schemas.entity_types import EntityTypeMap
from qa4re.types import Entity, ErrorRecord

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


def load_pipeline(name: str) -> Language:
    """Load a spaCy pipeline by package name or folder, with a clear error when it is missing."""
    try:
        import spacy
    except ImportError:
        raise BackendUnavailable("entity detection needs spaCy: pip install 'qa4re[spacy]'") from None
    try:
        return spacy.load(name)
    except OSError as exc:
        raise BackendUnavailable(f"spaCy pipeline {name!r} not found: install it (python -m spacy download {name}) or give its folder ({exc})") from None


def mentions(doc: Doc, entity_types: EntityTypeMap) -> tuple[tuple[Entity, ...], tuple[tuple[int, int], ...]]:
    """The entity mentions (labels mapped, unmapped labels dropped) and sentence spans of a spaCy Doc."""
    entities = []
    for ent in doc.ents:
        kind = entity_types.type_of(ent.label_)
        if kind is not None:
            entities.append(Entity(ent.start_char, ent.end_char, kind))
    sentences: tuple[tuple[int, int], ...] = ()
    if doc.has_annotation("SENT_START"):
        sentences = tuple((s.start_char, s.end_char) for s in doc.sents)
    return tuple(entities), sentences


def detect_entities(
    documents: Iterable[Document | ErrorRecord], nlp: Language, entity_types: EntityTypeMap, batch_size: int = 64
) -> Iterator[Document | ErrorRecord]:
    """Fill in the entities and sentences of the documents that need them, keeping input order.

    Documents that came with their own spans pass through untouched; texts go through
    ``nlp.pipe`` in chunks of ``batch_size``, so memory stays flat.
    """
    stream = iter(documents)
    while chunk := list(itertools.islice(stream, batch_size)):
        todo = [d for d in chunk if isinstance(d, Document) and d.needs_entities]
        found = dict(zip((id(d) for d in todo), nlp.pipe(d.text for d in todo), strict=True))
        for item in chunk:
            doc = found.get(id(item))
            if doc is None or not isinstance(item, Document):
                yield item
                continue
            entities, sentences = mentions(doc, entity_types)
            yield dataclasses.replace(item, entities=entities, sentences=item.sentences or sentences, needs_entities=False)
