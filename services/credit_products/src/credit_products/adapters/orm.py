"""The credit_products database: providers, and later products, with the outbox and inbox.

Rows, not the domain: `domain.Provider` is stored as a `ProviderRow` by its repository.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import JSON, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from tasdir.db import messaging_tables


class CreditProductsModel(SQLModel, registry=registry()):
    pass


class ProviderRow(CreditProductsModel, table=True):
    __tablename__ = "provider"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    country: str = Field(max_length=2)
    # Moroccan region codes, sorted; empty means national.
    regions: list[str] = Field(default_factory=list, sa_type=JSON)
    contact: str | None = Field(default=None, max_length=500)
    status: str = Field(default="active", max_length=20)
    version: int = 1
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


tables = messaging_tables(CreditProductsModel)
metadata = CreditProductsModel.metadata
