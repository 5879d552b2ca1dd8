"""The import rules of ARCHITECTURE.md, checked on the source: every ``.py`` file of the project's
packages is parsed with `ast`, and every import counts, those inside functions included.

- floors: a package imports only from its own floor or the floors below
  (common 1, tasks 2, inference 3, server | training 4, cli 5); server and training never
  import each other;
- apart: icegrt_client (the SDK, in clients/, its own distribution) imports nothing of the
  project's and no third-party package but httpx, pydantic and its optional openai and tqdm;
  loadtests only itself, icegrt_client and common; benchmarks (training's speed, in process)
  itself, loadtests (its results conventions), training and the floors below it, never server; of the floors, only cli may import
  icegrt_client (its ``icegrt ads`` command);
- tasks knows no HTTP, no engine and no optimizer; inference no HTTP and no metrics;
- no import cycles between modules.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"common": 1, "tasks": 2, "inference": 3, "server": 4, "training": 4, "cli": 5}
APART = {"icegrt_client": {"icegrt_client"}, "loadtests": {"loadtests", "icegrt_client", "common"},
         "benchmarks": {"benchmarks", "loadtests", "training", "inference", "tasks", "common"}}
PACKAGES = set(FLOORS) | set(APART)
SDK_FOLDER = ROOT / "clients"  # the SDK's distribution (clients/pyproject.toml): its one package lies inside
PACKAGE_DIRS = {package: SDK_FOLDER / package if package == "icegrt_client" else ROOT / package for package in PACKAGES}
SDK_THIRD_PARTY = {"httpx", "pydantic", "openai", "tqdm"}  # openai and tqdm optional, imported on use
FORBIDDEN_THIRD_PARTY = {
    "tasks": {"fastapi", "starlette", "uvicorn", "httpx", "prometheus_client", "torch", "transformers", "vllm"},
    "inference": {"fastapi", "starlette", "uvicorn", "prometheus_client"},
}


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in sorted(PACKAGES):
        for path in sorted(PACKAGE_DIRS[package].rglob("*.py")):
            parts = path.relative_to(PACKAGE_DIRS[package].parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = module_files()


def imported_names(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of everything `path` imports, at any depth of the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # `from package import module` imports the module
                full = f"{module}.{alias.name}"
                yield (full if full in MODULES else module), node.lineno


def project_module(dotted: str) -> str | None:
    """The project module `dotted` names (or the package holding the name), None if not ours."""
    while dotted and dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def import_edges() -> dict[str, dict[str, int]]:
    """module -> {project module it imports: first line}."""
    edges: dict[str, dict[str, int]] = {}
    for name, path in MODULES.items():
        targets = edges.setdefault(name, {})
        for dotted, line in imported_names(name, path):
            target = project_module(dotted)
            if target is not None and target != name:
                targets.setdefault(target, line)
    return edges


EDGES = import_edges()


def allowed(source: str, target: str) -> bool:
    if source in APART:
        return target in APART[source]
    if target in APART:
        return source == "cli" and target == "icegrt_client"
    if FLOORS[target] < FLOORS[source] or source == target:
        return True
    return False  # a higher floor, or the other package of the same floor (server <-> training)


def test_every_package_is_placed():
    top_level = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - {"tests"}
    assert top_level <= PACKAGES, f"place {sorted(top_level - PACKAGES)} on a floor (here and in ARCHITECTURE.md)"
    in_sdk = {p.name for p in SDK_FOLDER.iterdir() if (p / "__init__.py").is_file()}
    assert in_sdk == {"icegrt_client"}, "clients/ holds the SDK's one package, icegrt_client"
    assert not (SDK_FOLDER / "__init__.py").exists(), "clients/ is the SDK's distribution folder, not a package"


def test_imports_follow_the_floors():
    broken = [f"{MODULES[source].relative_to(ROOT)}:{line}: {source} imports {target}"
              for source, targets in EDGES.items() for target, line in targets.items()
              if not allowed(source.split(".")[0], target.split(".")[0])]
    assert not broken, "imports against ARCHITECTURE.md's floors:\n" + "\n".join(broken)


@pytest.mark.parametrize("package", sorted(FORBIDDEN_THIRD_PARTY))
def test_lower_floors_stay_free_of_http_and_heavy_libraries(package):
    forbidden = FORBIDDEN_THIRD_PARTY[package]
    found = [f"{path.relative_to(ROOT)}:{line}: {dotted}"
             for name, path in MODULES.items() if name.split(".")[0] == package
             for dotted, line in imported_names(name, path) if dotted.split(".")[0] in forbidden]
    assert not found, f"{package}/ may not import {sorted(forbidden)}:\n" + "\n".join(found)


def test_the_sdk_needs_only_httpx_and_pydantic():
    """clients/pyproject.toml pins httpx and pydantic only: the SDK imports nothing else beyond the
    standard library and itself (openai and tqdm are optional, imported when used)."""
    allowed_roots = SDK_THIRD_PARTY | set(sys.stdlib_module_names) | {"icegrt_client"}
    found = [f"{path.relative_to(ROOT)}:{line}: {dotted}"
             for name, path in MODULES.items() if name.split(".")[0] == "icegrt_client"
             for dotted, line in imported_names(name, path) if dotted.split(".")[0] not in allowed_roots]
    assert not found, "the SDK imports packages its distribution does not depend on:\n" + "\n".join(found)


def strongly_connected(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycles():
    cycles = strongly_connected(EDGES)
    assert not cycles, "modules that import each other (directly or in a circle):\n" + "\n".join(
        " <-> ".join(component) for component in cycles)


def test_the_checks_see_function_level_imports_and_cycles():
    """The checker itself: imports inside functions count, and a circle is found."""
    assert "server.vllm_engine" not in MODULES and "inference.vllm_engine" in EDGES["server.app"]  # inside a function
    assert strongly_connected({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
    assert not allowed("training", "server") and not allowed("server", "training")
    assert not allowed("tasks", "inference") and allowed("inference", "tasks")
    assert not allowed("icegrt_client", "common")
    assert allowed("cli", "icegrt_client") and not allowed("server", "icegrt_client")
    assert "icegrt_client.commands" in EDGES["cli.main"]  # the SDK's modules are seen in clients/
