"""Entity-type maps: an entity detector's labels -> a schema's entity types, read from data files.

A map file is YAML or JSON: ``labels: {DETECTOR_LABEL: TYPE | [TYPE, ...]}``. A label mapped to
several types becomes the type ``"A|B"``, which :meth:`RelationSchema.candidates` reads as
alternatives. A label that is not in the map is not a mention for the schema.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from qa4re.errors import SchemaError
from qa4re.registry import DataRegistry
from qa4re.schemas.loader import read_schema_file, string_list
from qa4re.schemas.model import RelationSchema

ENTITY_TYPES = DataRegistry(
    "entity-type map",
    "qa4re.entity_types",
    {
        "ontonotes-tacred": "qa4re.schemas:data/entity_types/ontonotes-tacred.v2.yaml",
        "ontonotes-tacred.v2": "qa4re.schemas:data/entity_types/ontonotes-tacred.v2.yaml",
        "ontonotes-tacred.v1": "qa4re.schemas:data/entity_types/ontonotes-tacred.v1.yaml",
    },
)
"""Entity-type maps by name (versioned; the bare name is the newest): a data file inside a package; plug-ins add theirs through
the entry-point group ``qa4re.entity_types`` (``my-map = "my_package:maps/my.v1.yaml"``)."""
# The map used by default for each built-in schema; the others keep the detector's labels.
SCHEMA_ENTITY_TYPES = {"tacred": "ontonotes-tacred", "tacrev": "ontonotes-tacred", "retacred": "ontonotes-tacred"}


@dataclass(frozen=True)
class EntityTypeMap:
    """Detector label -> schema type (``"A|B"`` for alternatives); ``identity`` keeps labels as they are."""

    name: str
    labels: Mapping[str, str]
    identity: bool = False

    def type_of(self, label: str, known: Collection[str] = ()) -> str | None:
        """The schema type for a detector label (itself when it is one of the ``known`` schema types),
        or None when the label is not a mention."""
        return label if self.identity or label in known else self.labels.get(label)


IDENTITY = EntityTypeMap("identity", {}, identity=True)


def load_entity_types(name_or_path: str | Path | None, schema: RelationSchema | None = None, schema_name: str | None = None) -> EntityTypeMap:
    """Load a built-in map by name or a map file; None picks the built-in schema's map, else identity.

    With ``schema``, every type the map names must occur in the schema's constraints (a typo
    would otherwise silently drop every pair of that type).
    """
    if name_or_path is None:
        default = SCHEMA_ENTITY_TYPES.get(schema_name or "")
        if default is None:
            return IDENTITY
        name_or_path = default
    key = str(name_or_path)
    if key in ENTITY_TYPES:
        source = ENTITY_TYPES.get(key).replace(":", "/")
        data = read_schema_file(ENTITY_TYPES.file(key).read_text(encoding="utf-8"), source)
    else:
        path = Path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(key, "(file)", f"cannot read the entity-type map: {exc}") from None
        source = key
        data = read_schema_file(text, key)
    raw = data.get("labels")
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(source, "labels", "must map each detector label to a type or a list of types")
    labels: dict[str, str] = {}
    for label, value in raw.items():
        types = string_list(value, source, f"labels.{label}")
        if schema is not None and schema.constraints:
            unknown = [t for t in types if t not in schema.entity_types]
            if unknown:
                raise SchemaError(source, f"labels.{label}", f"type(s) {', '.join(unknown)} do not occur in the constraints of {schema.name}")
        labels[str(label)] = "|".join(types)
    return EntityTypeMap(str(data.get("id", key)), labels)
