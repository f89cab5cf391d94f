"""The exporters database: its own registry, its tables, its outbox and inbox.

Rows, not the domain: the repositories turn these into `domain` aggregates and back.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from sqlalchemy import JSON, Date, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from tasdir.db import messaging_tables
from tasdir.db.types import ExactDecimal
from tasdir.json_types import JsonObject


class ExportersModel(SQLModel, registry=registry()):
    pass


class ExporterRow(ExportersModel, table=True):
    """`domain.Exporter`, as its repository stores it."""

    __tablename__ = "exporter"
    __table_args__ = (Index("ix_exporter_region_created", "region", "created_at", "id"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org: str = Field(max_length=128, unique=True)
    status: str = Field(default="active", max_length=20)
    legal_name: str = Field(max_length=200)
    ice: str = Field(max_length=15, unique=True)
    region: str = Field(max_length=64)
    legal_form: str | None = Field(default=None, max_length=100)
    founded_year: int | None = None
    exporting_since: int | None = None
    employees: int | None = None
    annual_turnover_mad: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    export_turnover_mad: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    # [{hs_code, destination, share_pct (a decimal string)}]
    exports: list[JsonObject] = Field(default_factory=list, sa_type=JSON)
    audited_accounts: bool | None = None
    collateral_available_mad: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    export_share_pct: float | None = None
    is_mono_market: bool | None = Field(default=None, index=True)
    is_mono_product: bool | None = None
    # The HS chapters exported, as " 08 20 ": `LIKE '% 08 %'` filters on one.
    hs_chapters: str = Field(default=" ", max_length=1000)
    version: int = 1
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class FinancingRequestRow(ExportersModel, table=True):
    """`domain.FinancingRequest`, as its repository stores it."""

    __tablename__ = "financing_request"
    __table_args__ = (
        Index("ix_financing_request_org_created", "org", "created_at", "id"),
        Index("ix_financing_request_region_created", "region", "created_at", "id"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    exporter_id: UUID = Field(index=True)
    org: str = Field(max_length=128)
    region: str = Field(max_length=64)
    status: str = Field(max_length=20)
    instrument: str = Field(max_length=64)
    amount: Decimal = Field(sa_type=ExactDecimal)
    currency: str = Field(max_length=3)
    tenor_days: int
    destination: str = Field(max_length=2)
    hs_codes: list[str] = Field(default_factory=list, sa_type=JSON)
    purpose: str = Field(max_length=32)
    payment_terms: str = Field(max_length=32)
    needed_by: date | None = Field(default=None, sa_type=Date)
    buyer: JsonObject | None = Field(default=None, sa_type=JSON)
    referrals_expected: int | None = None
    version: int = 1
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ConsentRow(ExportersModel, table=True):
    """`domain.Consent`: one per exporter and provider."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("exporter_id", "provider_id"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    exporter_id: UUID = Field(index=True)
    org: str = Field(max_length=128)
    provider_id: UUID
    status: str = Field(max_length=20)
    granted_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    version: int = 1
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ProviderProjection(ExportersModel, table=True):
    """The providers an exporter may consent to, as the credit_products service published them.

    Small on purpose: consents need to know that a provider exists and is active. The snapshot
    keeps the rest, so that a later use needs no replay.
    """

    __tablename__ = "provider_projection"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=20)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ReferralProjection(ExportersModel, table=True):
    """The referrals of each request, as matching published them: a request is `declined`
    once every one of its referrals is."""

    __tablename__ = "referral_projection"

    id: UUID = Field(primary_key=True)
    request_id: UUID = Field(index=True)
    provider_id: UUID
    status: str = Field(max_length=20)
    snapshot: str = Field(sa_type=Text)
    aggregate_version: int
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


tables = messaging_tables(ExportersModel)
metadata = ExportersModel.metadata
