"""The matching database: projections of the other services' aggregates, and its own state."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from tasdir.db import messaging_tables
from tasdir.db.types import UtcDateTime
from tasdir.json_types import JsonObject

#: An autoincrementing id: BIGINT, but INTEGER on SQLite, whose rowid alias must say INTEGER.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")


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
    # How many events the set has emitted (its envelopes' `aggregate_version`): `version`
    # counts material changes only, and a status change (opened, reviewed) is an event too.
    event_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class MatchEntry(MatchingModel, table=True):
    """Which products a match set holds (its matches), to find the sets a product change may
    alter without reading every set."""

    __tablename__ = "match_entry"

    request_id: UUID = Field(primary_key=True)
    product_id: UUID = Field(primary_key=True, index=True)


class AuditEntry(MatchingModel, table=True):
    """The audit trail of a match set: who opened, approved or rejected it, and when."""

    __tablename__ = "match_set_audit"

    id: UUID = Field(primary_key=True)
    request_id: UUID = Field(index=True)
    action: str = Field(max_length=20)  # opened | approved | rejected
    actor: str = Field(max_length=256)
    actor_role: str = Field(max_length=20)
    match_set_version: int
    product_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    note: str | None = Field(default=None, sa_type=Text)
    at: datetime = Field(sa_type=UtcDateTime)


class Referral(MatchingModel, table=True):
    """One approved match sent to its provider. `request` and `profile` hold the anonymous
    facts the provider sees before consent; the identity is read from the exporter's
    projection, and only while a consent holds."""

    __tablename__ = "referral"
    __table_args__ = (
        UniqueConstraint("request_id", "product_id", name="uq_referral_request_product"),
        Index("ix_referral_provider_sent", "provider_id", "sent_at"),
        Index("ix_referral_org_sent", "org", "sent_at"),
    )

    id: UUID = Field(primary_key=True)
    review_id: UUID
    request_id: UUID = Field(index=True)
    exporter_id: UUID = Field(index=True)
    org: str = Field(max_length=128)
    region: str = Field(max_length=64, index=True)
    provider_id: UUID
    product_id: UUID
    product_version: int
    product_name: JsonObject = Field(default_factory=dict, sa_type=JSON)
    match: JsonObject = Field(default_factory=dict, sa_type=JSON)
    bundle: list[JsonObject] = Field(default_factory=list, sa_type=JSON)
    request: JsonObject = Field(default_factory=dict, sa_type=JSON)
    profile: JsonObject = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(max_length=20)
    sent_at: datetime = Field(sa_type=UtcDateTime)
    response: JsonObject | None = Field(default=None, sa_type=JSON)
    reply: JsonObject | None = Field(default=None, sa_type=JSON)
    offer_decision: str | None = Field(default=None, max_length=20)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When the offer in `response` lapses; indexed for the scheduler.
    offer_valid_until: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    version: int = 1


class ReferralStep(MatchingModel, table=True):
    """A referral's timeline: sent, each answer, each reply, the offer's fate."""

    __tablename__ = "referral_step"

    id: int | None = Field(default=None, primary_key=True, sa_type=_SERIAL)
    referral_id: UUID = Field(index=True)
    kind: str = Field(max_length=32)  # sent | response | reply | offer_decision
    actor: str = Field(max_length=256)
    actor_role: str = Field(max_length=20)
    detail: JsonObject = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(sa_type=UtcDateTime)


class AccessLogEntry(MatchingModel, table=True):
    """Every disclosure of an exporter's identity through a referral (law 09-08)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_org_id", "org", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=_SERIAL)
    exporter_id: UUID = Field(index=True)
    org: str = Field(max_length=128)
    referral_id: UUID
    provider_id: UUID | None = None
    viewer: str = Field(max_length=256)
    viewer_role: str = Field(max_length=20)
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    at: datetime = Field(sa_type=UtcDateTime)


class Notification(MatchingModel, table=True):
    """A stored notification for an audience: `org:<org>` (an exporter's users),
    `provider:<id>` (a provider's), `region:<code>` (that region's advisors). The id orders
    them and is the server-sent event's id, which a stream resumes from."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_audience_id", "audience", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=_SERIAL)
    audience: str = Field(max_length=200)
    kind: str = Field(max_length=64)
    data: JsonObject = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)
    # What caused it (an event id and the audience, say): a second cause with the same key is
    # the same notification, so a redelivered event never notifies twice.
    dedupe_key: str = Field(max_length=200, unique=True, index=True)


class NotificationCursor(MatchingModel, table=True):
    """One row: the last notification id published to Redis for the live streams."""

    __tablename__ = "notification_cursor"

    id: int = Field(default=1, primary_key=True)
    last_id: int = Field(default=0, sa_type=BigInteger())


tables = messaging_tables(MatchingModel)
metadata = MatchingModel.metadata
