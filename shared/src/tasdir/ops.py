"""Operations on a service's event history: replay its outbox, forget what a consumer applied.

Rebuilding a projection is two steps, because consumers dedupe replays through their inbox:

1. in the consuming service, empty the projection and `forget-events` of the types it is built
   from (one transaction), so that the replayed events are applied again;
2. in the producing service, `republish` those types from the outbox history.

Replays keep their `event_id`s, and projections apply an event only when its
`aggregate_version` is newer, so a replay never moves a projection backwards.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import col, delete, select

from tasdir.messaging.topology import service_queue, topic_matches
from tasdir.messaging.transport import OutgoingMessage
from tasdir.runtime import ServiceRuntime

log = logging.getLogger(__name__)


async def republish(
    runtime: ServiceRuntime,
    pattern: str = "#",
    *,
    to_service: str | None = None,
    batch_size: int = 500,
) -> int:
    """Publish again every sent outbox event whose type matches `pattern` (topic syntax), in
    commit order. With `to_service`, feed only that service's queue."""
    outbox: Any = runtime.definition.tables.outbox
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
            last_id = row.id
            if not topic_matches(pattern, row.event_type):
                continue
            message = OutgoingMessage.from_outbox(row, **{"x-republished": True})
            if queue:
                await runtime.transport.send_to_queue(queue, message)
            else:
                await runtime.transport.publish(message)
            published += 1
        log.info("republished %d events so far", published)


async def forget_events(runtime: ServiceRuntime, pattern: str) -> int:
    """Delete this service's inbox rows for event types matching `pattern`, so that a replay
    of those events is applied again."""
    inbox: Any = runtime.definition.tables.inbox
    async with runtime.sessions() as session:
        types = (await session.exec(select(inbox.event_type).distinct())).all()
        chosen = [t for t in types if topic_matches(pattern, t)]
        if not chosen:
            return 0
        result = await session.exec(delete(inbox).where(col(inbox.event_type).in_(chosen)))
        await session.commit()
        return int(result.rowcount or 0)
