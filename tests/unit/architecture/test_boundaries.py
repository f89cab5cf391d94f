"""The architecture, checked from the source:
- no import cycle inside the `tasdir` library (a function-level import counts too);
- the library imports no service, no application (`tasdir_cli`) and not fakeredis;
- a service never imports another service, nor the command-line tool, nor the console;
- every route of every service is a `TasdirRoute` (authentication before the body is read).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from credit_products.bootstrap import definition as credit_products
from exporters.bootstrap import definition as exporters
from fastapi.routing import APIRoute
from matching.bootstrap import definition as matching
from tasdir.routing import TasdirRoute

ROOT = Path(__file__).resolve().parents[3]
LIBRARY = ROOT / "shared" / "src" / "tasdir"
SERVICES = ("exporters", "credit_products", "matching")
# The applications built on the library: the command-line tool and the web console (a
# backend-for-frontend that talks to the services over HTTP only).
APPLICATIONS = ("tasdir_cli", "console")


def module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> Iterator[str]:
    """Every module `path` imports, at any depth of its code, relative imports resolved."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            # `from tasdir.db import uow` imports the submodule `tasdir.db.uow`.
            for alias in node.names:
                yield f"{target}.{alias.name}"


def library_graph() -> dict[str, set[str]]:
    modules = {module_name(path, LIBRARY, "tasdir"): path for path in sorted(LIBRARY.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {
            target for target in imports(path, module) if target in modules and target != module
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports, if any (depth-first search with colours)."""
    visiting: set[str] = set()
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        visiting.add(node)
        stack.append(node)
        for target in sorted(graph[node]):
            # A package's __init__ re-exporting its submodules is not a cycle of theirs.
            if node.startswith(target + "."):
                continue
            if target in visiting:
                return [*stack[stack.index(target) :], target]
            if target not in done:
                found = visit(target)
                if found:
                    return found
        visiting.discard(node)
        done.add(node)
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in done:
            found = visit(node)
            if found:
                return found
    return None


def test_the_library_has_no_import_cycle() -> None:
    cycle = find_cycle(library_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def roots_imported(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Top-level packages imported by each file of `package_dir`."""
    found: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        module = module_name(path, package_dir, package)
        for target in imports(path, module):
            found.setdefault(target.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_library_imports_no_service_no_application_and_not_fakeredis() -> None:
    imported = roots_imported(LIBRARY, "tasdir")
    forbidden = {*SERVICES, *APPLICATIONS, "fakeredis"}
    offending = {root: sorted(files) for root, files in imported.items() if root in forbidden}
    assert offending == {}


def test_the_library_does_not_declare_fakeredis() -> None:
    declared = (ROOT / "shared" / "pyproject.toml").read_text()
    assert "fakeredis" not in declared


def test_the_library_names_no_service() -> None:
    """Service names may appear in the event contracts and the broker topology (which are the
    contract between services), and nowhere else in the library's code."""
    allowed = {"contracts", "messaging"}
    offending = []
    for path in LIBRARY.rglob("*.py"):
        if path.relative_to(LIBRARY).parts[0] in allowed:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in SERVICES:
                offending.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert offending == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_another_service_nor_the_cli(service: str) -> None:
    package = ROOT / "services" / service / "src" / service
    imported = roots_imported(package, service)
    others = (set(SERVICES) - {service}) | set(APPLICATIONS)
    offending = {root: sorted(files) for root, files in imported.items() if root in others}
    assert offending == {}


@pytest.mark.parametrize("definition", [exporters, credit_products, matching], ids=SERVICES)
def test_every_route_authenticates_before_reading_the_body(definition: object) -> None:
    routes = [
        route
        for router in definition.routers  # type: ignore[attr-defined]
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert routes
    assert [r.path for r in routes if not isinstance(r, TasdirRoute)] == []
