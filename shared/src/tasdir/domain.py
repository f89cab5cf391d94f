"""Helpers for the rules of aggregates (a service's `domain/`).

`Violations` gathers every broken rule of one change, so that a 422 names all the fields at
once, and the change writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tasdir.errors import Invalid


@dataclass
class Violations:
    """`add` each broken rule, then `raise_if_any()`: an `Invalid` (422) naming every field."""

    kind: str = "validation-error"
    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, message: str, code: str = "value_error") -> None:
        self.errors.append({"field": name, "in": "body", "message": message, "code": code})

    def check(self, holds: bool, name: str, message: str, code: str = "value_error") -> bool:
        if not holds:
            self.add(name, message, code)
        return holds

    def __contains__(self, name: object) -> bool:
        return any(error["field"] == name for error in self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            names = ", ".join(dict.fromkeys(error["field"] for error in self.errors))
            raise Invalid(f"invalid input: {names}", kind=self.kind, errors=list(self.errors))


__all__ = ["Violations"]
