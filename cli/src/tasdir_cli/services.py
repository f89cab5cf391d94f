"""The services the `tasdir` tool puts together. The library knows no service by name; this
package is the composition root that does.

The definitions are imported when asked for, so that `tasdir token` and `tasdir --help` do not
load every service's routes and tables.
"""

from __future__ import annotations

from tasdir.service import AnyServiceDefinition

# In the order of their ports under `tasdir stack` (8001, 8002, 8003).
SERVICES: tuple[str, ...] = ("exporters", "credit_products", "matching")


class UnknownService(ValueError):
    """A name that is not one of `SERVICES`."""


def check_service(name: str) -> str:
    """The service called `name` (a dash is read as an underscore), or `UnknownService`."""
    normalised = name.strip().replace("-", "_")
    if normalised not in SERVICES:
        raise UnknownService(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    return normalised


def definitions() -> dict[str, AnyServiceDefinition]:
    """Every service's definition, by name, in the order of `SERVICES`."""
    from credit_products.bootstrap import definition as credit_products
    from exporters.bootstrap import definition as exporters
    from matching.bootstrap import definition as matching

    found: dict[str, AnyServiceDefinition] = {
        "exporters": exporters,
        "credit_products": credit_products,
        "matching": matching,
    }
    assert tuple(found) == SERVICES
    return found


def definition(name: str) -> AnyServiceDefinition:
    """The definition of one service; `UnknownService` for a name that is not one."""
    return definitions()[check_service(name)]


__all__ = ["SERVICES", "UnknownService", "check_service", "definition", "definitions"]
