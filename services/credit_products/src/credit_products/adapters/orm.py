"""The credit_products database: providers, and later products, with the outbox and inbox.

Rows, not the domain: `domain.Provider` is stored as a `ProviderRow` by its repository.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import JSON, DateTime, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from tasdir.db import messaging_tables
from tasdir.json_types import JsonObject


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


class ProductRow(CreditProductsModel, table=True):
    """`domain.Product`, without its versions."""

    __tablename__ = "product"
    __table_args__ = (Index("ix_product_status_created", "status", "created_at", "id"),)

    id: UUID = Field(primary_key=True)
    provider_id: UUID = Field(index=True)
    status: str = Field(max_length=20)
    version: int = 0
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ProductVersionRow(CreditProductsModel, table=True):
    """One version of a product: its terms as a document (see `adapters.documents`)."""

    __tablename__ = "product_version"

    product_id: UUID = Field(primary_key=True, foreign_key="product.id")
    number: int = Field(primary_key=True)
    status: str = Field(max_length=20)
    instrument: str = Field(max_length=64)
    terms: JsonObject = Field(sa_type=JSON)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    withdrawn_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


tables = messaging_tables(CreditProductsModel)
metadata = CreditProductsModel.metadata
