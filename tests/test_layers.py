"""The import graph of the project's own modules, read from the source (every `import`, also the
ones inside functions): the layers point down only (data_pipeline <- emollm <- {train, serve},
and train and serve never import each other), and no modules import each other, directly or
round a longer loop."""

from __future__ import annotations

import ast
from pathlib import Path

from emollm.presets import REPO_ROOT

PACKAGES = ("data_pipeline", "emollm", "train", "serve")
# what each layer may import from the project
ALLOWED = {"data_pipeline": {"data_pipeline"}, "emollm": {"data_pipeline", "emollm"},
           "train": {"data_pipeline", "emollm", "train"}, "serve": {"data_pipeline", "emollm", "serve"}}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports: `from a.b import c` names `a.b.c` when that is a module,
    else `a.b` (importing a package's submodule does not count as importing the package's
    `__init__` back)."""
    targets = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
    return {t for t in targets if t in modules and t != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_layers_point_down():
    wrong = sorted(f"{name} imports {target}" for name, targets in _graph().items() for target in targets
                   if target.split(".")[0] not in ALLOWED[name.split(".")[0]])
    assert wrong == []


def test_no_import_cycles():
    graph = _graph()
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [node, target]) if target in path
                              else f"{node} -> {target}")
            elif target not in state:
                visit(target, path + [node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_the_graph_is_read():  # the checks above would pass on an empty graph
    graph = _graph()
    assert "emollm.inference" in graph["serve.engine"]
    assert "data_pipeline.clip" in graph["emollm.records"]
    assert len(graph) > 100
