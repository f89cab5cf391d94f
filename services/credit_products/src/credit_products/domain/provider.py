"""The provider: a bank, guarantor, insurer or export credit agency that publishes products.

The aggregate owns its invariants (a known kind, an ISO country, Moroccan region codes, clean
text), its version (one per event), its change detection (a revision that changes nothing
raises nothing) and who may change what (`kind` and `country` are the admin's to set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args
from uuid import UUID, uuid4

from tasdir.contracts import events
from tasdir.errors import Forbidden, Invalid
from tasdir.reference import is_country, is_region
from tasdir.text import clean_text

ProviderKind = Literal["bank", "guarantor", "insurer", "eca"]
ProviderStatus = Literal["active", "suspended"]
KINDS: tuple[str, ...] = get_args(ProviderKind)
NAME_MAX = 200
CONTACT_MAX = 500

EDITABLE = frozenset({"name", "kind", "country", "regions", "contact"})
ADMIN_ONLY = frozenset({"kind", "country"})
NULLABLE = frozenset({"contact"})


def checked_kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return value


def checked_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper-case as ISO writes it (`MA`)."""
    if not is_country(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def checked_regions(codes: Iterable[str]) -> tuple[str, ...]:
    """Moroccan region codes, without duplicates and sorted.

    The regions a provider serves are a set: sorting them makes two revisions that list the
    same regions in another order the same state, so the second changes nothing and emits
    nothing. An empty list means the provider is national.
    """
    codes = list(codes)
    unknown = [code for code in codes if not is_region(code)]
    if unknown:
        raise ValueError(f"unknown region codes: {', '.join(map(repr, unknown))}")
    return tuple(sorted(set(codes)))


def checked_name(value: str) -> str:
    return clean_text(value, max_length=NAME_MAX)


def checked_contact(value: str) -> str:
    return clean_text(value, multiline=True, max_length=CONTACT_MAX)


_RULES: dict[str, Callable[..., object]] = {
    "name": checked_name,
    "kind": checked_kind,
    "country": checked_country,
    "regions": checked_regions,
    "contact": checked_contact,
}


def _invalid(name: str, message: str, code: str = "value_error") -> Invalid:
    return Invalid(
        f"invalid input: {name}",
        kind="invalid-provider",
        errors=[{"field": name, "in": "body", "message": message, "code": code}],
    )


def _validated(name: str, value: object) -> object:
    """The value as the provider keeps it; a 422 naming the field otherwise."""
    if value is None:
        if name in NULLABLE:
            return None
        raise _invalid(name, "may not be null")
    try:
        return _RULES[name](value)
    except (ValueError, TypeError) as exc:
        raise _invalid(name, str(exc)) from None


@dataclass(eq=False)
class Provider:
    id: UUID
    name: str
    kind: str
    country: str
    regions: tuple[str, ...]
    contact: str | None
    status: str
    # Counts this aggregate's events: the `aggregate_version` of its last one.
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(
        cls,
        *,
        name: str,
        kind: str,
        country: str,
        regions: Iterable[str] = (),
        contact: str | None = None,
        now: datetime,
        provider_id: UUID | None = None,
    ) -> tuple[Provider, events.ProviderRegistered]:
        provider = cls(
            id=provider_id or uuid4(),
            name=str(_validated("name", name)),
            kind=str(_validated("kind", kind)),
            country=str(_validated("country", country)),
            regions=_validated("regions", tuple(regions)),  # type: ignore[arg-type]
            contact=_validated("contact", contact),  # type: ignore[arg-type]
            status="active",
            version=1,
            created_at=now,
            updated_at=now,
        )
        return provider, events.ProviderRegistered.model_validate(provider.snapshot())

    def revise(
        self, changes: Mapping[str, object], *, by_admin: bool, now: datetime
    ) -> events.ProviderUpdated | None:
        """Apply the fields sent; the event, or None when nothing changed (no new version)."""
        unknown = sorted(set(changes) - EDITABLE)
        if unknown:
            raise _invalid(unknown[0], "not a field of a provider", "extra_forbidden")
        if not by_admin:
            reserved = sorted(set(changes) & ADMIN_ONLY)
            if reserved:
                # A permission of the role, not a bad value: 403, naming each field.
                raise Forbidden(
                    f"{', '.join(reserved)}: set by an admin",
                    kind="field-reserved-to-admins",
                    errors=[
                        {
                            "field": name,
                            "in": "body",
                            "message": f"{name} is set by an admin",
                            "code": "reserved",
                        }
                        for name in reserved
                    ],
                )
        revised = replace(self)
        for name, value in changes.items():
            setattr(revised, name, _validated(name, value))
        if revised.snapshot() == self.snapshot():
            return None
        for name in EDITABLE:
            setattr(self, name, getattr(revised, name))
        self.version += 1
        self.updated_at = now
        return events.ProviderUpdated.model_validate(self.snapshot())

    def snapshot(self) -> dict[str, object]:
        """The event payload: the whole provider, as `events.ProviderSnapshot` has it."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "country": self.country,
            "regions": list(self.regions),
            "contact": self.contact,
            "status": self.status,
        }
