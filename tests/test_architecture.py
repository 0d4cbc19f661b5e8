"""The direction of dependencies (docs/ARCHITECTURE.md), held by the import graph itself.

noxfile.py -> benchmarks/ -> stages/ -> shared/; mailsim/ stands apart. Inside benchmarks/:
measure -> stack, faults -> stack, tools -> stack; results/ reads run folders and imports no
other room; the locustfile pulls in neither pandas nor matplotlib (Locust patches the network
stack with gevent at import). grimp (import-linter's engine) reads the real imports; each rule
is also shown to fire on a graph with one wrong-way import added.
"""

from __future__ import annotations

import pathlib

import grimp
import pytest

PACKAGES = ("shared", "stages", "benchmarks", "mailsim")
ROOMS = ("stack", "measure", "results", "faults", "tools")
ALLOWED_ROOMS = {  # room -> the other rooms it may import
    "stack": set(),
    "measure": {"stack"},
    "results": set(),
    "faults": {"stack"},
    "tools": {"stack"},
}
# (importer prefix, imported prefix): never allowed, directly or through another module.
FORBIDDEN = [
    ("shared", "stages"),
    ("shared", "benchmarks"),
    ("shared", "mailsim"),
    ("stages", "benchmarks"),
    ("stages", "mailsim"),
    ("mailsim", "shared"),
    ("mailsim", "stages"),
    ("mailsim", "benchmarks"),
    ("benchmarks.client", "benchmarks.stack"),
    ("benchmarks.client", "shared"),
    ("benchmarks.measure.locustfile", "pandas"),
    ("benchmarks.measure.locustfile", "matplotlib"),
] + [
    (f"benchmarks.{room}", f"benchmarks.{other}")
    for room, allowed in ALLOWED_ROOMS.items()
    for other in ROOMS
    if other != room and other not in allowed
]


def build_graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _modules(graph, prefix: str) -> list[str]:
    return sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))


def violations(graph) -> list[str]:
    """Every forbidden chain in the graph, and every stage importing another stage."""
    found = []
    for importer, imported in FORBIDDEN:
        for a in _modules(graph, importer):
            for b in _modules(graph, imported):
                chain = graph.find_shortest_chain(importer=a, imported=b)
                if chain:
                    found.append(" -> ".join(chain))
                    break
    stages = {m.split(".")[1] for m in _modules(graph, "stages") if m.count(".") >= 1}
    for stage in stages:
        for other in stages - {stage}:
            for a in _modules(graph, f"stages.{stage}"):
                for b in graph.find_modules_directly_imported_by(a):
                    if b == f"stages.{other}" or b.startswith(f"stages.{other}."):
                        found.append(f"{a} -> {b}")
    return found


@pytest.fixture(scope="module")
def graph():
    return build_graph()


def test_every_arrow_points_down(graph):
    assert violations(graph) == []


@pytest.mark.parametrize(
    "importer,imported",
    [
        ("shared.models", "benchmarks.stack.runner"),
        ("shared.services", "stages.legacy.app"),
        ("stages.cache.app", "stages.token_auth.app"),
        ("benchmarks.results.analysis", "benchmarks.stack.runner"),
        ("benchmarks.stack.runner", "benchmarks.measure.bench"),
        ("benchmarks.faults", "benchmarks.results.analysis"),
        ("mailsim.server", "shared.models"),
        ("benchmarks.measure.locustfile", "pandas"),
    ],
)
def test_a_wrong_way_import_is_caught(importer, imported):
    graph = build_graph()  # a graph of its own: the wrong import must not leak into others
    graph.add_import(importer=importer, imported=imported)
    assert any(importer in v for v in violations(graph)), f"{importer} -> {imported} not caught"


def test_the_rooms_exist_and_nothing_else_sits_loose_in_benchmarks():
    """A newcomer finds every harness module in a room named by its role."""
    top = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
    shared = {"__init__.py", "client.py", "paths.py", "slo.py"}  # docs/ARCHITECTURE.md
    loose = sorted(p.name for p in top.glob("*.py") if p.name not in shared)
    assert loose == []
    assert all((top / room / "__init__.py").exists() for room in ROOMS)


def test_every_module_says_its_job_and_fits_in_one_sitting():
    root = pathlib.Path(__file__).resolve().parent.parent
    problems = []
    for package in ("benchmarks", "shared", "mailsim", "stages"):
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text()
            lines = text.count("\n")
            if lines > 420:
                problems.append(f"{path.relative_to(root)}: {lines} lines")
            if text.strip() and not text.lstrip().startswith(('"""', "'''")):
                problems.append(f"{path.relative_to(root)}: no docstring")
    assert problems == []
