"""Fields of the tables every service keeps beside its own: the outbox, the inbox and the
idempotency keys.

Each service has its own SQLModel registry (its own database), so these are field mixins; a
service declares the concrete tables with `messaging_tables(ServiceModel)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, Text
from sqlmodel import Field, SQLModel


class OutboxFields(SQLModel):
    # The id orders the relay's work; sent rows stay as the history that `republish` replays.
    id: int | None = Field(
        default=None,
        sa_type=BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
    )
    event_id: str = Field(max_length=36, unique=True)
    event_type: str = Field(max_length=200)
    aggregate_id: str = Field(max_length=64)
    aggregate_version: int
    correlation_id: str = Field(max_length=128)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Refused publishes: how many, the last error, when the first one happened and when the
    # relay tries again (backoff with jitter).
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    first_failed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # A row that kept failing for the relay's time budget is set aside here; the relay goes on
    # with the rows behind it, and `tasdir outbox retry` brings it back.
    parked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class InboxFields(SQLModel):
    consumer: str = Field(max_length=100, primary_key=True)
    event_id: str = Field(max_length=36, primary_key=True)
    event_type: str = Field(max_length=200)
    processed_at: datetime = Field(sa_type=DateTime(timezone=True))


class IdempotencyFields(SQLModel):
    """A POST that carried an `Idempotency-Key`, stored in the write's own transaction.

    The primary key is `(principal, key)`: a second commit of the same key fails, even when
    the Redis in-flight lock was lost.
    """

    principal: str = Field(max_length=128, primary_key=True)
    key: str = Field(max_length=255, primary_key=True)
    # sha256 of the method, the path and the canonical body.
    request_hash: str = Field(max_length=64)
    status: int
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class MessagingTables:
    """The concrete tables of one service, declared in its own registry."""

    outbox: type[OutboxFields]
    inbox: type[InboxFields]
    idempotency: type[IdempotencyFields]


def messaging_tables(base: type[SQLModel]) -> MessagingTables:
    """Declare `outbox`, `inbox` and `idempotency_key` in the registry of `base` (a service's
    model base)."""

    class Outbox(OutboxFields, base, table=True):  # type: ignore[misc,valid-type]
        __tablename__ = "outbox"
        __table_args__ = (Index("ix_outbox_pending", "sent_at", "parked_at", "id"),)

    class Inbox(InboxFields, base, table=True):  # type: ignore[misc,valid-type]
        __tablename__ = "inbox"

    class IdempotencyKey(IdempotencyFields, base, table=True):  # type: ignore[misc,valid-type]
        __tablename__ = "idempotency_key"

    return MessagingTables(outbox=Outbox, inbox=Inbox, idempotency=IdempotencyKey)


__all__ = [
    "IdempotencyFields",
    "InboxFields",
    "MessagingTables",
    "OutboxFields",
    "messaging_tables",
]
