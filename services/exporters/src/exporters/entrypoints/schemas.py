"""The API models of exporters, apart from the event snapshots: per entity, what a client may
send to create it (`XCreate`) and what it reads (`XPublic`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from tasdir.reference.codes import RegionCode
from tasdir.text import Text

from exporters.domain.exporter import ICE_LENGTH, LEGAL_NAME_MAX, Exporter

Ice = Annotated[
    str,
    Field(
        pattern=f"^[0-9]{{{ICE_LENGTH}}}$",
        description="The Moroccan company id (ICE): 15 ASCII digits.",
        examples=["001234567000089"],
    ),
]


class ExporterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    legal_name: Annotated[str, Text(LEGAL_NAME_MAX)]
    ice: Ice
    region: RegionCode


class ExporterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    org: str
    status: str
    legal_name: str
    ice: str
    region: str

    @classmethod
    def of(cls, exporter: Exporter) -> ExporterPublic:
        return cls.model_validate(exporter)
