"""Check the package's import graph: no circles between modules, no import from a lower layer to a higher one.

    python scripts/check_imports.py        # exit 1 and one line per problem

Every ``import`` in ``src/qa4re`` counts, at module level, inside a function (a lazy import is
still a dependency) or under ``if TYPE_CHECKING:`` (a type-only import is a dependency of meaning:
a circle through one is still a circle). The layers, lowest first, are ``LAYERS`` below: a module
may import its own layer and the layers under it. Inside a package named in ``SUBLAYERS`` the same
rule holds between its own sub-layers.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Lowest first. A module belongs to the first entry that is it or one of its packages.
LAYERS: list[tuple[str, ...]] = [
    ("qa4re.types", "qa4re.errors", "qa4re.registry", "qa4re.fields"),
    ("qa4re.schemas", "qa4re.prompts", "qa4re.datasets", "qa4re.backends"),
    ("qa4re.extract", "qa4re.tuning"),
    ("qa4re.engines",),
    ("qa4re.evaluation", "qa4re.integrations"),
    ("qa4re.experiments",),
    ("qa4re.api", "qa4re.cli", "qa4re.__main__", "qa4re"),
]


# Inside a package, lowest first; every module of the package is in one of them.
SUBLAYERS: dict[str, list[tuple[str, ...]]] = {
    "qa4re.extract": [
        ("qa4re.extract", "qa4re.extract.registries", "qa4re.extract.pairs", "qa4re.extract.debiasers.positions"),
        ("qa4re.extract.config", "qa4re.extract.methods"),  # settings and prompt methods
        ("qa4re.extract.builder",),  # prompts of instances, no model
        ("qa4re.extract.debiasers", "qa4re.extract.selectors"),  # plug-ins that plan over prepared prompts
        ("qa4re.extract.pipeline",),  # the pair-level extractor
        ("qa4re.extract.ner", "qa4re.extract.documents", "qa4re.extract.jobs"),  # documents and jobs
    ],
}


def _index(module: str, layers: list[tuple[str, ...]], exact: tuple[str, ...] = ()) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching name, layer): the longest name wins
    for index, names in enumerate(layers):
        for name in names:
            if module in exact and module == name or name not in exact and (module == name or module.startswith(name + ".")):
                if best is None or len(name) > best[0]:
                    best = (len(name), index)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    found = _index(module, LAYERS, exact=("qa4re",))
    if found is None:
        raise SystemExit(f"{module}: in no layer of scripts/check_imports.py")
    return found


def sublayer(module: str) -> tuple[str, int] | None:
    """(package, sub-layer) of a module inside a package with sub-layers, else None."""
    for package, layers in SUBLAYERS.items():
        if module == package or module.startswith(package + "."):
            found = _index(module, layers, exact=(package,))
            if found is None:
                raise SystemExit(f"{module}: in no sub-layer of {package} in scripts/check_imports.py")
            return package, found
    return None


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def imports(path: Path, modules: set[str]) -> Iterator[tuple[str, int, bool]]:
    """(imported qa4re module, line, only for type checking) for each import in ``path``."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            typing_only.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            if target.split(".")[0] == "qa4re":
                while target not in modules and "." in target:
                    target = target.rpartition(".")[0]
                yield target, node.lineno, id(node) in typing_only


def problems() -> list[str]:
    files = {module_name(p): p for p in sorted((SRC / "qa4re").rglob("*.py"))}
    modules = set(files)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    found = []
    for module, path in files.items():
        for target, line, _typing_only in imports(path, modules):
            if target == module or module.startswith(target + ".") and target != "qa4re":
                continue  # a package's own __init__ on the way to a submodule
            where = f"{path.relative_to(SRC.parent)}:{line}: {module}"
            if layer(target) > layer(module):
                found.append(f"{where} (layer {layer(module)}) imports {target} (layer {layer(target)}), a higher layer")
            inner, outer = sublayer(module), sublayer(target)
            if inner and outer and inner[0] == outer[0] and outer[1] > inner[1]:
                found.append(f"{where} ({inner[0]} sub-layer {inner[1]}) imports {target} (sub-layer {outer[1]}), a higher sub-layer")
            graph[module].add(target)
    found += [f"import circle: {' -> '.join(circle)}" for circle in circles(graph)]
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    if not found:
        subs = sum(len(layers) for layers in SUBLAYERS.values())
        print(f"imports: {len(list((SRC / 'qa4re').rglob('*.py')))} modules, {len(LAYERS)} layers ({subs} sub-layers), 0 circles, no upward import")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
