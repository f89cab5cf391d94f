"""The exporters database: its own registry, its tables, its outbox and inbox."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import DateTime, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from tasdir.db import messaging_tables


class ExportersModel(SQLModel, registry=registry()):
    pass


class ExporterRow(ExportersModel, table=True):
    """`domain.Exporter`, as its repository stores it."""

    __tablename__ = "exporter"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org: str = Field(max_length=128, unique=True)
    status: str = Field(default="active", max_length=20)
    legal_name: str = Field(max_length=200)
    ice: str = Field(max_length=15, unique=True)
    region: str = Field(max_length=64)
    version: int = 1
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ProviderProjection(ExportersModel, table=True):
    """The providers an exporter may consent to, as the credit_products service published them.

    Small on purpose: consents need to know that a provider exists and is active. The snapshot
    keeps the rest, so that a later use needs no replay.
    """

    __tablename__ = "provider_projection"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=20)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


tables = messaging_tables(ExportersModel)
metadata = ExportersModel.metadata
