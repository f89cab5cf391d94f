"""The dispatcher: tells the live notification streams, through Redis, that notifications
were stored (docs/notifications.md, "How a notification reaches a stream").

The database is the source of truth; Redis only wakes the streams up. Every
`dispatch_interval_seconds` the dispatcher:

1. finds the *settled* id: the newest notification id such that no transaction still holds a
   smaller one (`NotificationRepository.settled_up_to`). On PostgreSQL, ids are handed out in
   one order and committed in another; a stream that moved past an id whose row was not yet
   committed would never send it. Nothing beyond the settled id is published, and the streams
   never read past what was published;
2. in one transaction: locks the `notification_cursor` row, reads the notifications after its
   `last_id` up to the settled id (a bounded batch), PUBLISHes each as
   `{"id": n, "audience": "..."}` on the channel `<TASDIR_REDIS_PREFIX>notifications`, then
   moves the cursor and commits.

A dispatcher that dies between the publish and the commit publishes the same ids again when it
next runs: the streams send each id once, in order, whatever they are told twice. Several
dispatchers (one per consumer process) take turns on the cursor's lock.
"""

from __future__ import annotations

import json
import logging

from redis.asyncio import Redis
from sqlalchemy.exc import DBAPIError
from tasdir.service import AnyServiceRuntime, JobContext, repeat
from tasdir.settings import Settings

from matching.config import get_matching_settings

log = logging.getLogger(__name__)

#: The most notifications one pass publishes; the next pass takes the rest.
BATCH = 500
#: How long a pass waits for the writers of notifications to commit before it tries again
#: at the next interval (PostgreSQL only).
SETTLE_TIMEOUT_MS = 200


def channel(settings: Settings) -> str:
    """The Redis channel of the notification ids, under the deployment's key prefix."""
    return f"{settings.redis_prefix}notifications"


def announcement(notification_id: int, audience: str) -> str:
    return json.dumps({"id": notification_id, "audience": audience}, separators=(",", ":"))


async def dispatch_once(
    runtime: AnyServiceRuntime,
    redis: Redis,
    *,
    channel: str,
    batch: int = BATCH,
    settle_timeout_ms: int = SETTLE_TIMEOUT_MS,
) -> int:
    """One pass: publish the settled notifications after the cursor, then move it. Answers how
    many were published (0 when the writers did not settle in time: the next pass retries)."""
    async with runtime.uow() as uow:
        try:
            settled = await uow.notifications.settled_up_to(lock_timeout_ms=settle_timeout_ms)
        except DBAPIError as exc:
            # A writer held its transaction open longer than the timeout (lock_not_available).
            log.info("notification writers still busy; dispatching at the next pass (%s)", exc)
            return 0
        published = await uow.notifications.published_up_to()
        await uow.commit()  # lets the writers waiting on the share lock go on at once
    if settled <= published:
        return 0
    async with runtime.uow() as uow:
        cursor = await uow.notifications.cursor_for_update()
        found = await uow.notifications.after(None, cursor.last_id, batch)
        rows = [row for row in found if row.id is not None and row.id <= settled]
        if not rows:
            return 0
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                assert row.id is not None
                pipe.publish(channel, announcement(row.id, row.audience))
            await pipe.execute()
        last = rows[-1].id
        assert last is not None
        cursor.last_id = last
        await uow.commit()
    return len(rows)


async def dispatcher(context: JobContext) -> None:
    """The background job: `dispatch_once` every `dispatch_interval_seconds`."""
    redis = context.redis
    if redis is None:
        log.warning("no Redis client: the notification streams are not told of new notifications")
        await context.stop.wait()
        return
    name = channel(context.runtime.settings)

    async def tick(context: JobContext) -> None:
        await dispatch_once(context.runtime, redis, channel=name)

    every = get_matching_settings().dispatch_interval_seconds
    await repeat(tick, every, name="notification-dispatcher")(context)


__all__ = ["BATCH", "announcement", "channel", "dispatch_once", "dispatcher"]
