"""Check the package's import graph: no circles between modules, no import from a lower layer to a higher one.

    python scripts/check_imports.py        # exit 1 and one line per problem

Every ``import`` in ``src/qa4re`` counts, at module level or inside a function (a lazy import is
still a dependency); imports under ``if TYPE_CHECKING:`` count for the layers but not for circles
(they never run). The layers, lowest first, are ``LAYERS`` below: a module may import its own layer
and the layers under it.
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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    for index, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names if name != "qa4re") or module in names:
            return index
    raise SystemExit(f"{module}: in no layer of scripts/check_imports.py")


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
        for target, line, typing_only in imports(path, modules):
            if target == module or module.startswith(target + ".") and target != "qa4re":
                continue  # a package's own __init__ on the way to a submodule
            if layer(target) > layer(module):
                found.append(f"{path.relative_to(SRC.parent)}:{line}: {module} (layer {layer(module)}) imports {target} (layer {layer(target)}), a higher layer")
            if not typing_only:
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
        print(f"imports: {len(list((SRC / 'qa4re').rglob('*.py')))} modules, {len(LAYERS)} layers, 0 circles, no upward import")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
