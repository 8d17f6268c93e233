"""The import structure of ``src/clincode``: layers run one way and no module imports itself in a circle.

Every import counts, including those inside functions (a function-level import is still an arrow).
A package may import packages of lower layers only; modules inside one package may import each
other as long as the module graph stays acyclic.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "clincode"

# Lower layers first; a unit may import units of its own layer's lower layers (and itself).
LAYERS: list[set[str]] = [
    {"registry", "io", "resources", "launch", "encoders", "codes", "metrics", "labels"},
    {"config", "data", "losses"},
    {"models", "coders", "forecasters"},
    {"tasks"},
    {"train"},
    {"bench", "report", "segments_cli", "notes_cli", "audit", "explain", "api"},
    {"demo"},
    {"cli"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("clincode")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("clincode"):
                continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from pkg import module`
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in files.items():
        edges[name] = {m for m in imports_of(path) if m in files and m != name}
    return edges


def unit(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else module


def test_every_unit_has_a_layer():
    units = {unit(m) for m in graph() if m != "clincode"}
    assert units <= set(RANK), f"modules without a layer: {sorted(units - set(RANK))}"


def test_no_import_runs_up_a_layer():
    upward = [
        f"{a} -> {b}"
        for a, targets in graph().items()
        for b in targets
        if a != "clincode" and b != "clincode" and RANK[unit(b)] > RANK[unit(a)]
    ]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(upward))


def test_module_graph_has_no_cycle():
    # A package __init__ re-exporting its modules is not a cycle of logic: drop init -> own child edges.
    edges = {a: {b for b in bs if not (b.startswith(a + ".") and a.count(".") < b.count("."))} for a, bs in graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            cycle = visit(start)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_demo_and_segments_reach_the_next_visit_task_through_the_registry():
    # Through TASKS and the task's public methods, not the task package's internals.
    inside = [
        f"{a} -> {b}"
        for a in ("clincode.demo", "clincode.segments_cli")
        for b in imports_of(SRC / f"{a.split('.')[1]}.py")
        if b.startswith("clincode.tasks.next_visit")
    ]
    assert not inside, "imports of next-visit internals:\n" + "\n".join(sorted(inside))
