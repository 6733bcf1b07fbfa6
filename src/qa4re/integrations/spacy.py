"""The ``qa4re`` spaCy component: relations between a Doc's entities, written to ``doc._.relations``.

    nlp = spacy.load("en_core_web_sm")
    nlp.add_pipe("qa4re", config={"schema": "tacred"})
    doc = nlp("Tim Cook is the chief executive of Apple.")
    doc._.relations  # [{"subject": {...}, "relation": "per:employee_of", "object": {...}, ...}]

A pair the model could not score goes to ``doc._.relation_errors`` instead, with the reason.
Each relation is a plain dict (so a Doc with relations serializes with ``to_bytes``): subject and
object with text, character offsets into the Doc and schema type, the relation, its confidence
and the evidence sentence. ``doc.char_span(r["subject"]["start"], r["subject"]["end"])`` gives the
Span. The factory is registered through the ``spacy_factories`` entry point, so no import is needed.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from qa4re.backends.settings import BackendSettings
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DocumentExtractor, DocumentResult, DocumentSettings
from qa4re.extract.ner import mentions
from qa4re.extract.pairs import Document
from qa4re.extract.pipeline import Extractor
from qa4re.fields import declared, field_names
from qa4re.schemas.entity_types import EntityTypeMap, load_entity_types
from qa4re.schemas.loader import load_schema

for _name in ("relations", "relation_errors"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


class RelationComponent:
    """Finds the relations between the entities of each sentence of a Doc, with QA4RE."""

    def __init__(self, extractor: Extractor, entity_types: EntityTypeMap, settings: DocumentSettings) -> None:
        self.extractor = extractor
        self.entity_types = entity_types
        self.documents = DocumentExtractor(extractor, settings)

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 32) -> Iterator[Doc]:
        """Score the pairs of ``batch_size`` Docs together."""
        stream = iter(docs)
        while chunk := list(itertools.islice(stream, batch_size)):
            documents = []
            for k, doc in enumerate(chunk):
                entities, sentences = mentions(doc, self.entity_types, self.extractor.schema.entity_types)
                documents.append(Document(str(k), doc.text, entities, "doc", k + 1, sentences))
            self.documents.chunk = len(documents)
            for doc, result in zip(chunk, self.documents.extract(documents), strict=True):
                assert isinstance(result, DocumentResult)  # Docs are never unreadable
                doc._.relations = [t.to_json(with_document=False) for t in result.triples]
                doc._.relation_errors = [e.to_json(with_document=False) for e in result.errors]
            yield from chunk


COMPONENT_CONFIG = {"schema": "tacred", "templates": None, "entity_types": None, **{d.name: d.default for d in declared(DocumentSettings) if d.setting.spacy}}
MODEL_KEYS = field_names(BackendSettings, lambda s: s.spacy)  # the model's keys, declared with the backend settings
PROMPT_KEYS = field_names(ExtractorConfig, lambda s: s.spacy)  # the prompt settings extract offers, declared with the pipeline's
PROMPT_DEFAULTS = {d.name: d.default for d in declared(ExtractorConfig) if d.name in PROMPT_KEYS}


def make_relation_extractor(nlp: Language, name: str, **config: Any) -> RelationComponent:
    """Build the component: the schema and its entity-type map, and the model (loaded once)."""
    model = {key: config.pop(key) for key in MODEL_KEYS}
    model["cache"] = Path(model["cache"]) if model["cache"] else None
    relation_schema = load_schema(config["schema"], config["templates"])
    backend = BackendSettings(**model).build()
    extractor = Extractor(relation_schema, backend, ExtractorConfig(**{key: config[key] for key in PROMPT_KEYS}))
    type_map = load_entity_types(config["entity_types"], relation_schema, config["schema"])
    settings = DocumentSettings(**{key: config[key] for key in field_names(DocumentSettings, lambda s: s.spacy)})
    return RelationComponent(extractor, type_map, settings)


def _signature() -> inspect.Signature:
    """The factory's signature, which spaCy validates a config against: the component's keys and the model's."""
    defaults = {**COMPONENT_CONFIG, **{d.name: d.default for d in declared(BackendSettings) if d.name in MODEL_KEYS}, **PROMPT_DEFAULTS}
    hints = {d.name: d.type for d in declared(BackendSettings)} | {d.name: d.type for d in declared(ExtractorConfig)} | {"cache": str | None}
    own = {"schema": str, "templates": str | None, "entity_types": str | None, **{d.name: d.type for d in declared(DocumentSettings)}}
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("nlp", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Language),
        inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
    ]
    parameters += [inspect.Parameter(key, keyword, default=value, annotation={**hints, **own}[key]) for key, value in defaults.items()]
    return inspect.Signature(parameters, return_annotation=RelationComponent)


make_relation_extractor.__signature__ = _signature()  # type: ignore[attr-defined]
Language.factory("qa4re", default_config={**COMPONENT_CONFIG, **{d.name: d.default for d in declared(BackendSettings) if d.name in MODEL_KEYS},
                                          **PROMPT_DEFAULTS})(
    make_relation_extractor
)
