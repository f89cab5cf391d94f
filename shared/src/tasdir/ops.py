"""Operations on a service's event history: replay its outbox, bring back parked rows, forget
what a consumer applied. The `tasdir` command-line tool calls these (`tasdir outbox …`,
`tasdir inbox …`).

Rebuilding a projection is two steps, because consumers dedupe replays through their inbox:

1. in the consuming service, empty the projection and forget the events of the types it is
   built from (`forget_events`), so that the replayed events are applied again;
2. in the producing service, `republish` those types from the outbox history.

Replays keep their `event_id`s, and projections apply an event only when its
`aggregate_version` is newer, so a replay never moves a projection backwards.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, delete, select

from tasdir.messaging.relay import OutboxCounts, aware, outbox_counts
from tasdir.messaging.topology import service_queue, topic_matches
from tasdir.messaging.transport import OutgoingMessage
from tasdir.service import AnyServiceRuntime

log = logging.getLogger(__name__)

Runtime = AnyServiceRuntime


@dataclass(frozen=True)
class ParkedEvent:
    """An outbox row the relay set aside, as an operator sees it."""

    event_id: str
    event_type: str
    aggregate_id: str
    created_at: datetime
    parked_at: datetime
    attempts: int
    last_error: str | None

    def summary(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "type": self.event_type,
            "aggregate_id": self.aggregate_id,
            "created_at": self.created_at.isoformat(),
            "parked_at": self.parked_at.isoformat(),
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


async def counts(runtime: Runtime) -> OutboxCounts:
    async with runtime.sessions() as session:
        return await outbox_counts(session, runtime.tables.outbox)


async def parked(runtime: Runtime, limit: int = 1000) -> list[ParkedEvent]:
    """The rows set aside and not sent, oldest first."""
    outbox = runtime.tables.outbox
    query = (
        select(outbox)
        .where(col(outbox.sent_at).is_(None), col(outbox.parked_at).is_not(None))
        .order_by(col(outbox.id))
        .limit(limit)
    )
    async with runtime.sessions() as session:
        rows = (await session.exec(query)).all()
    return [
        ParkedEvent(
            event_id=row.event_id,
            event_type=row.event_type,
            aggregate_id=row.aggregate_id,
            created_at=aware(row.created_at),
            parked_at=aware(row.parked_at) if row.parked_at else aware(row.created_at),
            attempts=row.attempts,
            last_error=row.last_error,
        )
        for row in rows
    ]


async def retry_parked(runtime: Runtime, event_ids: Sequence[str] | None = None) -> int:
    """Put parked rows back in the relay's way, their failure clock reset. `event_ids=None`
    retries every parked row. Returns how many rows came back."""
    outbox = runtime.tables.outbox
    statement = (
        update(outbox)
        .where(col(outbox.sent_at).is_(None), col(outbox.parked_at).is_not(None))
        .values(parked_at=None, first_failed_at=None, next_attempt_at=None, attempts=0)
    )
    if event_ids is not None:
        statement = statement.where(col(outbox.event_id).in_(list(event_ids)))
    async with runtime.sessions() as session:
        result = await session.exec(statement)
        await session.commit()
        return int(result.rowcount or 0)


async def republish(
    runtime: Runtime,
    pattern: str = "#",
    *,
    to_service: str | None = None,
    batch_size: int = 500,
) -> int:
    """Publish again every sent outbox event whose type matches `pattern` (topic syntax), in
    commit order. With `to_service`, feed only that service's queue."""
    outbox = runtime.tables.outbox
    queue = service_queue(to_service).name if to_service else None
    published = 0
    last_id = 0
    while True:
        async with runtime.sessions() as session:
            rows = (
                await session.exec(
                    select(outbox)
                    .where(col(outbox.sent_at).is_not(None), col(outbox.id) > last_id)
                    .order_by(col(outbox.id))
                    .limit(batch_size)
                )
            ).all()
        if not rows:
            return published
        for row in rows:
            last_id = row.id or last_id
            if not topic_matches(pattern, row.event_type):
                continue
            message = OutgoingMessage.from_outbox(row, **{"x-republished": True})
            if queue:
                await runtime.transport.send_to_queue(queue, message)
            else:
                await runtime.transport.publish(message)
            published += 1
        log.info("republished %d events so far", published)


async def forget_events(runtime: Runtime, pattern: str) -> int:
    """Delete this service's inbox rows for event types matching `pattern`, so that a replay
    of those events is applied again."""
    inbox = runtime.tables.inbox
    async with runtime.sessions() as session:
        types = (await session.exec(select(inbox.event_type).distinct())).all()
        chosen = [t for t in types if topic_matches(pattern, t)]
        if not chosen:
            return 0
        result = await session.exec(delete(inbox).where(col(inbox.event_type).in_(chosen)))
        await session.commit()
        return int(result.rowcount or 0)


__all__ = ["ParkedEvent", "counts", "forget_events", "parked", "republish", "retry_parked"]
