"""The seams between parts hold: no import cycle between modules, and alerting is a narrow port.

The import graph counts every import statement of the project's modules, those inside functions
included (a function-level import is still a dependency, only a hidden one). A part's tasks module
and the services module it runs may know each other: the service queues the task it belongs to.
Pure static analysis (ast), no Django: it reads the files, it imports nothing.
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("console", "verifiers", "numa")

# Cycles that exist today and could not be cut yet, each with why. Keep it empty; a new cycle fails.
ALLOWED_TODAY: set[frozenset[str]] = set()


def project_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(path: Path, module: str) -> Iterator[tuple[str, ...]]:
    """For every import statement at any depth of the file: the names it may refer to, best first.

    `from pkg import name` refers to the module pkg.name when there is one, else to pkg.
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield (alias.name,)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield (f"{base}.{alias.name}", base)


@functools.cache  # read once per run: the two tests below share it
def import_graph() -> dict[str, set[str]]:
    """Built in a process of its own: CPython 3.11's ast.parse may fail with "AST constructor
    recursion depth mismatch" while other threads of the test process run (seen in CI)."""
    output = subprocess.run([sys.executable, __file__], capture_output=True, text=True, check=True).stdout
    return {name: set(targets) for name, targets in json.loads(output).items()}


def build_import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for candidates in imported_names(path, name):
            target = resolve(candidates, modules)
            if target and target != name and not is_task_service_pair(name, target):
                graph[name].add(target)
    return graph


def resolve(candidates: tuple[str, ...], modules: dict[str, Path]) -> str:
    """The most specific project module an import refers to ('' for a library)."""
    for candidate in candidates:
        target = candidate
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target:
            return target
    return ""


def is_task_service_pair(importer: str, imported: str) -> bool:
    """A services module queueing a task of its own part's tasks module (the allowed pair)."""
    package, _, leaf = importer.rpartition(".")
    other_package, _, other_leaf = imported.rpartition(".")
    return package == other_package and {leaf, other_leaf} == {"services", "tasks"}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def describe(component: frozenset[str], graph: dict[str, set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in component for b in graph[a] if b in component)
    return "\n  ".join(edges)


def test_no_import_cycle_between_modules():
    graph = import_graph()
    new = [c for c in cycles(graph) if c not in ALLOWED_TODAY]
    assert not new, "import cycles:\n" + "\n".join(f"- {describe(c, graph)}" for c in new)


def test_alerts_import_no_module_of_a_part():
    graph = import_graph()
    reaching = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items() if module == "console.alerts" or module.startswith("console.alerts.")
        for target in targets if target.split(".")[0] in ("verifiers", "numa")
    )
    assert not reaching, "console.alerts must only receive events from the parts:\n" + "\n".join(reaching)


def test_the_graph_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text("def later():\n    from verifiers.models import Route\n    import numa.services\n")
    modules = {"verifiers.models": module, "numa.services": module}
    assert {resolve(c, modules) for c in imported_names(module, "console.sample")} == {"verifiers.models", "numa.services"}


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


if __name__ == "__main__":
    print(json.dumps({name: sorted(targets) for name, targets in build_import_graph().items()}))
