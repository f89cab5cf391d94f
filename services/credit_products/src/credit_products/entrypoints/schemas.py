"""The API models of credit_products, apart from the event snapshots: per entity, what a client
may send to create it (`XCreate`), to change it (`XUpdate`) and what it reads (`XPublic`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from tasdir.models import omittable
from tasdir.reference.codes import CountryCode, RegionCode
from tasdir.text import Text

from credit_products.domain.provider import CONTACT_MAX, NAME_MAX, Provider, ProviderKind

Name = Annotated[str, Text(NAME_MAX)]
Contact = Annotated[str, Text(CONTACT_MAX, multiline=True)]
Regions = Annotated[
    list[RegionCode],
    Field(description="The regions the provider serves; empty means national."),
]


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ProviderKind
    country: CountryCode
    regions: Regions = []
    contact: Contact | None = None


class ProviderUpdate(BaseModel):
    """Only the fields sent change. `contact: null` clears the contact; the other fields take a
    value, never null. `kind` and `country` are an admin's to change."""

    model_config = ConfigDict(extra="forbid")

    name: Name = omittable()
    kind: ProviderKind = omittable()
    country: CountryCode = omittable()
    regions: Regions = omittable()
    contact: Contact | None = None

    def changes(self) -> dict[str, object]:
        """The fields the client sent, as the domain takes them."""
        sent = self.model_dump(exclude_unset=True)
        if "regions" in sent:
            sent["regions"] = tuple(sent["regions"])
        return sent


class ProviderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    kind: ProviderKind
    country: str
    regions: list[str]
    contact: str | None
    status: str
    version: int

    @classmethod
    def of(cls, provider: Provider) -> ProviderPublic:
        return cls.model_validate(provider)
