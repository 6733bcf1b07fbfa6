"""The practitioner's entry point: relation names and text in, triples out.

    import qa4re
    rex = qa4re.RelationExtractor(["founded by", "chief executive of", "headquartered in"], model="default")
    rex("Steve Jobs and Steve Wozniak founded Apple in Cupertino.")   # -> list of qa4re.Triple
    rex("Marie Curie was born in Warsaw.", relations=["born in"])    # other relations, the same loaded model

``relations`` is a built-in schema name, a schema file, a list of relation names, or a mapping from a
name to a template string or to ``{template | description, subject_types, object_types, symmetric,
inverse}`` (:mod:`qa4re.schemas.declared` says how templates are derived from names). Entities come
from spaCy (``ner="auto"``: the installed default pipeline) unless a call gives them. Every other
setting of the pipeline or the model (``device``, ``dtype``, ``method``, ``debias``, ``batch_size``,
...) is a keyword, under the name it has on the command line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import count
from pathlib import Path
from typing import Any

from qa4re.backends.base import Backend
from qa4re.backends.settings import BackendSettings
from qa4re.errors import ConfigError, UnknownNameError
from qa4re.extract.config import ExtractorConfig
from qa4re.extract.documents import DEFAULTS, DocumentExtractor, DocumentResult, DocumentSettings, Triple
from qa4re.extract.ner import LazyPipeline, pipeline_name
from qa4re.extract.pairs import Document
from qa4re.extract.pipeline import Extractor
from qa4re.fields import field_names
from qa4re.schemas.declared import declared_schema
from qa4re.schemas.entity_types import load_entity_types
from qa4re.schemas.loader import load_schema
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, ErrorRecord

Relations = RelationSchema | str | Path | Sequence[str] | Mapping[str, Any]
Spans = Sequence[tuple[int, int] | tuple[int, int, str | None] | Entity]


def schema_of(relations: Relations, templates: str | None = None) -> RelationSchema:
    """The schema ``relations`` names or declares."""
    if isinstance(relations, RelationSchema):
        return relations
    if isinstance(relations, str | Path):
        return load_schema(relations, templates)
    return declared_schema(relations)


def _entity(span: tuple[int, int] | tuple[int, int, str | None] | Entity) -> Entity:
    if isinstance(span, Entity):
        return span
    return Entity(int(span[0]), int(span[1]), span[2] if len(span) > 2 else None)


MAX_SCHEMAS = 16  # document pipelines kept for relation lists given per call (the model is shared by all)


class RelationExtractor:
    """Relations between the entities of texts, with QA4RE, in one object holding one loaded model.

    Args:
        relations: a built-in schema name, a schema file, relation names, or a mapping name -> template
            or declaration; None: every call names its relations (``relations=`` of a call overrides it).
        model: ``--model`` (default: the embedded SmolLM2-135M-Instruct; proves plumbing, not accuracy),
            or a backend object already loaded (shared, never closed by this object).
        ner: a spaCy pipeline (package or folder) for texts without given entities; ``"auto"``: the
            installed default; None: every call must give its entities.
        threshold: keep triples whose confidence is at least this.
        entity_types: spaCy label -> schema type map (built-in name or file; default: the schema's own).
        templates: a template set of a built-in schema.
        **settings: any prompt, model or document setting by its name (``device``, ``dtype``, ``method``,
            ``debias``, ``batch_size``, ``cache``, ``include_na``, ``max_entities``, ``max_pairs``, ...);
            a misspelt one is refused with suggestions. Model outputs are cached on disk only when
            ``cache`` names a file.
    """

    def __init__(
        self,
        relations: Relations | None = None,
        model: str | Backend = "default",
        ner: str | None = "auto",
        threshold: float = DEFAULTS.threshold,
        *,
        entity_types: str | None = None,
        templates: str | None = None,
        **settings: Any,
    ) -> None:
        prompt_keys, model_keys = set(field_names(ExtractorConfig)), set(field_names(BackendSettings))
        document_keys = set(field_names(DocumentSettings)) - {"threshold"}
        unknown = sorted(set(settings) - prompt_keys - model_keys - document_keys)
        if unknown:
            raise ConfigError(str(UnknownNameError("setting", unknown[0], sorted(prompt_keys | model_keys | document_keys))))
        self.settings = DocumentSettings(threshold=threshold, **{k: v for k, v in settings.items() if k in document_keys})
        self.config = ExtractorConfig(**{k: v for k, v in settings.items() if k in prompt_keys})
        self._owns_backend = not isinstance(model, Backend)
        if isinstance(model, Backend):
            self.backend = model
        else:
            chosen = BackendSettings(model=model, **{k: v for k, v in settings.items() if k in model_keys})
            self.backend = chosen.build() if chosen.cache is not None else chosen.backend()  # no cache file unless asked
        self.nlp = LazyPipeline(None if ner == "auto" else ner) if ner is not None and (ner != "auto" or pipeline_name(None)) else None
        self._entity_types, self._templates = entity_types, templates
        self._pipelines: dict[str, DocumentExtractor] = {}
        self.documents = self._pipeline(relations) if relations is not None else None
        self.schema = self.documents.schema if self.documents is not None else None
        self._ids = count(1)

    def _pipeline(self, relations: Relations) -> DocumentExtractor:
        """The document pipeline of one relation list, built once (on the shared model) and kept for the next call."""
        key = repr(relations) if not isinstance(relations, RelationSchema) else f"schema:{id(relations)}"
        if key not in self._pipelines:
            schema = schema_of(relations, self._templates)
            type_map = load_entity_types(self._entity_types, schema, relations if isinstance(relations, str) else None)
            if len(self._pipelines) >= MAX_SCHEMAS:
                self._pipelines.pop(next(iter(self._pipelines)))
            self._pipelines[key] = DocumentExtractor(Extractor(schema, self.backend, self.config), self.settings, nlp=self.nlp, entity_types=type_map)
        return self._pipelines[key]

    def __call__(self, text: str, entities: Spans | None = None, relations: Relations | None = None) -> list[Triple]:
        """The triples of one text; ``entities`` as ``(start, end[, type])`` character spans, else spaCy finds them;
        ``relations`` for this call (default: the object's)."""
        (triples,) = self.pipe([text], entities=None if entities is None else [entities], relations=relations)
        return triples

    def results(
        self, texts: Iterable[str], entities: Iterable[Spans | None] | None = None, batch_size: int = 32, relations: Relations | None = None
    ) -> Iterator[DocumentResult]:
        """One :class:`DocumentResult` per text (its triples and the pairs the model could not score), in order."""
        if relations is None and self.documents is None:
            raise ConfigError("no relations: name them when the RelationExtractor is made, or in the call (relations=[...])")
        pipeline = self._pipeline(relations) if relations is not None else self.documents
        assert pipeline is not None
        given = iter(entities) if entities is not None else None
        pipeline.chunk = batch_size

        def documents() -> Iterator[Document]:
            for text in texts:
                spans = next(given, None) if given is not None else None
                identifier = f"text:{next(self._ids)}"
                if spans is None:
                    if pipeline.nlp is None:
                        raise ConfigError("no entities given and no spaCy pipeline (ner=None): pass entities=[(start, end, type), ...]")
                    yield Document(identifier, text, (), "api", 0, needs_entities=True)
                else:
                    yield Document(identifier, text, tuple(_entity(s) for s in spans), "api", 0)

        for result in pipeline.extract(documents()):
            if isinstance(result, ErrorRecord):  # pragma: no cover - documents built here are always readable
                raise ConfigError(result.message)
            yield result

    def pipe(
        self, texts: Iterable[str], entities: Iterable[Spans | None] | None = None, batch_size: int = 32, relations: Relations | None = None
    ) -> Iterator[list[Triple]]:
        """The triples of each text, in order, ``batch_size`` texts scored together."""
        for result in self.results(texts, entities, batch_size, relations):
            yield list(result.triples)

    def close(self) -> None:
        """Release the model and the output cache (a backend object given to it stays open: its owner closes it)."""
        if self._owns_backend:
            self.backend.close()

    def __enter__(self) -> RelationExtractor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
