"""The matching database: projections of the other services' aggregates, and its own state."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import JSON, DateTime, Index, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from tasdir.db import messaging_tables
from tasdir.db.types import UtcDateTime
from tasdir.json_types import JsonObject


class MatchingModel(SQLModel, registry=registry()):
    pass


class ExporterProjection(MatchingModel, table=True):
    """The latest snapshot of an exporter, as the exporters service published it."""

    __tablename__ = "exporter_projection"

    id: UUID = Field(primary_key=True)
    org: str = Field(max_length=128, index=True)
    status: str = Field(max_length=20)
    legal_name: str = Field(max_length=200)
    region: str = Field(max_length=64, index=True)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    # The `catalogue_seq` of its last change: the engine's indexes reload what moved.
    changed_seq: int = Field(default=0, index=True, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ProviderProjection(MatchingModel, table=True):
    """The latest snapshot of a provider, as the credit_products service published it."""

    __tablename__ = "provider_projection"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    country: str = Field(max_length=2)
    regions: list[str] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(max_length=20)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    # The `catalogue_seq` of its last change: the engine's indexes reload what moved.
    changed_seq: int = Field(default=0, index=True, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ProductProjection(MatchingModel, table=True):
    """The catalogue, as the credit_products service published it: the version in force of
    each product (a withdrawal included), by `aggregate_version`, never going back."""

    __tablename__ = "product_projection"

    id: UUID = Field(primary_key=True)
    provider_id: UUID = Field(index=True)
    status: str = Field(max_length=20)
    product_version: int
    instrument: str = Field(max_length=64)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    # The `catalogue_seq` of its last change: the engine's indexes reload what moved.
    changed_seq: int = Field(default=0, index=True, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class RequestProjection(MatchingModel, table=True):
    """The financing requests, as the exporters service published them."""

    __tablename__ = "request_projection"
    __table_args__ = (Index("ix_request_projection_exporter_status", "exporter_id", "status"),)

    id: UUID = Field(primary_key=True)
    exporter_id: UUID
    org: str = Field(max_length=128)
    region: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=20, index=True)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    # The `catalogue_seq` of its last change: the engine's indexes reload what moved.
    changed_seq: int = Field(default=0, index=True, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ConsentProjection(MatchingModel, table=True):
    """The exporters' consents to share their file with a provider."""

    __tablename__ = "consent_projection"
    __table_args__ = (Index("ix_consent_projection_pair", "exporter_id", "provider_id"),)

    id: UUID = Field(primary_key=True)
    exporter_id: UUID
    provider_id: UUID
    status: str = Field(max_length=20)
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class CatalogueState(MatchingModel, table=True):
    """One row: `seq` grows with every change of the catalogue or of a request, so an engine
    whose index was built at an older `seq` knows to refresh it, and each match set records the
    `seq` it was computed on."""

    __tablename__ = "catalogue_state"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0


class MatchSet(MatchingModel, table=True):
    """The ranked matches of one financing request: the advisors' review queue reads these.

    The engine writes them; `matches` holds the ranked eligible and conditional matches as the
    API shows them, `excluded` the nearest misses.
    """

    __tablename__ = "match_set"
    __table_args__ = (Index("ix_match_set_queue", "region", "status", "computed_at"),)

    request_id: UUID = Field(primary_key=True)
    exporter_id: UUID = Field(index=True)
    org: str = Field(max_length=128, index=True)
    region: str = Field(max_length=64)
    status: str = Field(max_length=20)
    version: int
    computed_at: datetime = Field(sa_type=UtcDateTime)
    catalogue_seq: int
    fx_as_of: date
    matches: list[JsonObject] = Field(default_factory=list, sa_type=JSON)
    excluded: list[JsonObject] = Field(default_factory=list, sa_type=JSON)
    excluded_total: int = 0
    # The request's `aggregate_version` the set was computed from.
    request_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class MatchEntry(MatchingModel, table=True):
    """Which products a match set holds (its matches), to find the sets a product change may
    alter without reading every set."""

    __tablename__ = "match_entry"

    request_id: UUID = Field(primary_key=True)
    product_id: UUID = Field(primary_key=True, index=True)


tables = messaging_tables(MatchingModel)
metadata = MatchingModel.metadata
