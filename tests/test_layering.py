"""The package's import directions, read from the source with ``ast`` (nothing is imported).

Layers, top to bottom: the entry layer (cli, options, build, preflight, check_data) -> engine / inference -> models ->
networks, backbones, losses, data, metrics -> viz -> io, ops, color -> registry -> errors. Every import,
at module level or inside a function, must point down this list (or stay inside its own wing), and no
set of modules may import each other in a circle. A new violation fails here with the offending line.
"""
import ast
import pathlib
from collections import defaultdict

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gantool"

#: wing -> the wings it may import (besides itself)
ALLOWED = {
    "entry": {"engine", "inference", "models", "networks", "backbones", "losses", "data", "metrics", "viz", "io",
              "ops", "color", "registry", "errors"},
    "engine": {"models", "networks", "backbones", "losses", "data", "metrics", "viz", "io", "ops", "color",
               "registry", "errors"},
    "inference": {"engine", "networks", "data", "viz", "io", "ops", "errors"},
    "models": {"networks", "backbones", "losses", "data", "metrics", "viz", "io", "ops", "color", "registry", "errors"},
    "networks": {"backbones", "io", "ops", "registry", "errors"},
    "backbones": {"io", "ops", "registry", "errors"},
    "losses": {"ops", "registry", "errors"},
    "data": {"viz", "io", "ops", "color", "registry", "errors"},
    "metrics": {"data", "networks", "backbones", "viz", "io", "ops", "registry", "errors"},
    "viz": {"io", "errors"},
    "io": {"errors"},
    "ops": {"errors"},
    "color": {"errors"},
    "registry": {"errors"},
    "errors": set(),
}
ENTRY = {"cli", "options", "build", "preflight", "check_data", ""}  # "" is the package's own __init__


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing(module: str) -> str:
    first = module.split(".")[1] if "." in module else ""
    return "entry" if first in ENTRY else first


def imports(path: pathlib.Path):
    """(line, imported gantool module) for every import in the file, submodules imported by name included."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
        else:
            continue
        for target in targets:
            if target == "gantool" or target.startswith("gantool."):
                yield node.lineno, target


def graph():
    edges = defaultdict(set)
    lines = {}
    for path in PACKAGE.rglob("*.py"):
        source = module_name(path)
        for line, target in imports(path):
            edges[source].add(target)
            lines[source, target] = f"{path.relative_to(PACKAGE.parent)}:{line}"
    return edges, lines


def test_imports_point_down_the_layers():
    edges, lines = graph()
    wrong = [f"{lines[s, t]}: {wing(s)} ({s}) imports {wing(t)} ({t})"
             for s, targets in edges.items() for t in targets
             if wing(t) != wing(s) and wing(t) not in ALLOWED[wing(s)]]
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_every_wing_is_known():
    edges, _ = graph()
    assert {wing(m) for m in edges} <= set(ALLOWED)


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    edges, lines = graph()
    # A package's __init__ importing its own modules is how it exports them, not a dependency of theirs.
    edges = {s: {t for t in ts if not t.startswith(s + ".")} for s, ts in edges.items()}
    cycles = _cycles(edges)
    detail = ["; ".join(f"{lines[s, t]} -> {t}" for s in c for t in edges[s] if t in c) for c in cycles]
    assert not cycles, "import circles:\n" + "\n".join(detail)


@pytest.mark.parametrize("edges, expected", [({"a": {"b"}, "b": {"a"}}, [["a", "b"]]), ({"a": {"b"}, "b": set()}, [])])
def test_the_circle_finder_finds_circles(edges, expected):
    assert _cycles(edges) == expected
