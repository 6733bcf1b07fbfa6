"""Which relations a tuning run may see: the relations of evaluation splits it must stay blind to, and their inverses.

``--exclude-relations-of DATASET:PATH`` names an evaluation split (its ``test`` split, or
``DATASET:PATH:SPLIT``); its relations and their inverses (the schema's own, and Wikidata's in
``tuning/data/inverses.v1.yaml``) are excluded: relation item sources leave them out, and a run
refuses to start if any item still shows one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from qa4re.datasets import dataset_schema, get_dataset
from qa4re.errors import ConfigError
from qa4re.schemas.model import RelationSchema
from qa4re.tuning.items import MCItem


@cache
def _inverse_pairs() -> tuple[tuple[str, str], ...]:
    data = yaml.safe_load(resources.files("qa4re.tuning").joinpath("data", "inverses.v1.yaml").read_text(encoding="utf-8"))
    return tuple((str(a), str(b)) for a, b in data["pairs"])


def with_inverses(relations: Iterable[str], schema: RelationSchema | None = None) -> frozenset[str]:
    """``relations`` and every relation that states one of them the other way round."""
    given = set(relations)
    pairs = [*_inverse_pairs(), *((schema.inverses or {}).items() if schema else ())]
    return frozenset(given | {b for a, b in pairs if a in given} | {a for a, b in pairs if b in given})


def parse_split_ref(ref: str) -> tuple[str, Path, str]:
    """``DATASET:PATH[:SPLIT]`` -> (dataset, path, split); the split defaults to test."""
    dataset, colon, rest = ref.partition(":")
    if not colon or not rest:
        raise ConfigError(f"--exclude-relations-of {ref}: expected DATASET:PATH (e.g. fewrel-unseen-15:../shared/data/fewrel)")
    get_dataset(dataset)  # an unknown name fails here, with a suggestion
    path, _, split = rest.partition(":") if not Path(rest).exists() else (rest, "", "")
    return dataset, Path(path), split or "test"


def excluded_relations(refs: Sequence[str]) -> dict[str, frozenset[str]]:
    """For each ``DATASET:PATH[:SPLIT]``: its positive relations and their inverses."""
    out = {}
    for ref in refs:
        dataset, path, split = parse_split_ref(ref)
        schema = dataset_schema(dataset, data=path, split=split)
        out[ref] = with_inverses(schema.positive_relations, schema)
    return out


def refuse_exposed(items: Iterable[MCItem], excluded: dict[str, frozenset[str]]) -> None:
    """One line naming the relation, the split it belongs to and the item, if any item shows an excluded relation."""
    for item in items:
        for ref, relations in excluded.items():
            hit = next((r for r in item.relations if r in relations), None)
            if hit is not None:
                raise ConfigError(f"relation '{hit}' of {ref} (or its inverse) is in the training items (item {item.id}, source {item.source or 'file'}); "
                                  "leave it out or drop --exclude-relations-of")  # fmt: skip
