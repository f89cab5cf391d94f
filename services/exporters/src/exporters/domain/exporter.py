"""The exporter profile: what an exporter may be, independent of storage and transport.

The aggregate owns its invariants (an ICE of 15 ASCII digits, a region of the reference data,
a clean legal name), its version and the events it raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from tasdir.contracts import events
from tasdir.errors import Invalid
from tasdir.reference import is_region
from tasdir.text import clean_text, is_ascii_digits

ICE_LENGTH = 15
LEGAL_NAME_MAX = 200


def is_valid_ice(ice: str) -> bool:
    """A Moroccan company id (Identifiant Commun de l'Entreprise) is 15 ASCII digits.

    ASCII only: Arabic-Indic or fullwidth digits would let one company register twice.
    """
    return is_ascii_digits(ice, ICE_LENGTH)


def _invalid(name: str, message: str) -> Invalid:
    return Invalid(
        f"invalid input: {name}",
        kind="invalid-exporter",
        errors=[{"field": name, "in": "body", "message": message, "code": "value_error"}],
    )


@dataclass(eq=False)
class Exporter:
    id: UUID
    org: str
    status: str
    legal_name: str
    ice: str
    region: str
    # Counts this aggregate's events: the `aggregate_version` of its last one.
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(
        cls, *, org: str, legal_name: str, ice: str, region: str, now: datetime
    ) -> tuple[Exporter, events.ExporterRegistered]:
        if not is_valid_ice(ice):
            raise _invalid("ice", f"must be {ICE_LENGTH} ASCII digits")
        if not is_region(region):
            raise _invalid("region", f"{region[:64]!r} is not a known region code")
        try:
            name = clean_text(legal_name, max_length=LEGAL_NAME_MAX)
        except ValueError as exc:
            raise _invalid("legal_name", str(exc)) from None
        exporter = cls(
            id=uuid4(),
            org=org,
            status="active",
            legal_name=name,
            ice=ice,
            region=region,
            version=1,
            created_at=now,
            updated_at=now,
        )
        return exporter, events.ExporterRegistered.model_validate(exporter.snapshot())

    def snapshot(self) -> dict[str, object]:
        """The event payload, as `events.ExporterSnapshot` has it."""
        return {
            "id": self.id,
            "org": self.org,
            "status": self.status,
            "legal_name": self.legal_name,
            "ice": self.ice,
            "region": self.region,
        }
