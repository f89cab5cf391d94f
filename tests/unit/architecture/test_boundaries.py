"""The architecture, checked: services share only `tasdir`, and `tasdir` imports no service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("exporters", "credit_products", "matching")


def imported_roots(package_dir: Path) -> set[tuple[str, str]]:
    found = set()
    for path in package_dir.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {(n.name.split(".")[0], str(path)) for n in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((node.module.split(".")[0], str(path)))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_another_service(service: str) -> None:
    package = ROOT / "services" / service / "src" / service
    others = set(SERVICES) - {service}
    offending = sorted(path for root, path in imported_roots(package) if root in others)
    assert offending == []


def test_the_shared_library_imports_no_service() -> None:
    package = ROOT / "shared" / "src" / "tasdir"
    offending = sorted(path for root, path in imported_roots(package) if root in SERVICES)
    assert offending == []
