"""`/v1/notifications`: what each party is told, as a list and as a live stream
(docs/notifications.md).

- `GET /v1/notifications`: the caller's notifications, newest first, keyset-paged. Who reads
  what comes from `audiences_of`: an exporter its organisation's, a provider its own, an advisor
  its regions', an admin all.
- `POST /v1/notifications/stream-ticket`: a random ticket, valid once and for
  `stream_ticket_ttl_seconds`, that stands for the caller on the stream. Only its SHA-256 is
  stored (in Redis, with the principal), so a Redis dump holds no usable ticket.
- `GET /v1/notifications/stream?ticket=...`: server-sent events. Browsers' `EventSource` cannot
  send an `Authorization` header, so this route authenticates by the ticket alone (the
  `streamTicket` scheme of the OpenAPI document), before the stream starts: no ticket, or an
  unknown, expired or used one, is a 401 problem.

The stream subscribes to the dispatcher's Redis channel first, then reads the database: what
it missed since `Last-Event-ID` (or the `last_event_id` query parameter), then, each time the
channel announces a notification for one of its audiences, what came after the last one it
sent. It never reads past the last id the dispatcher published (or announced): below that id,
every notification is committed, so moving past one never skips one still being written. At
every heartbeat it also looks at the database, so a lost announcement costs one heartbeat.
Each database read is a short unit of work of its own; none is held open by the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import APIKeyQuery
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from tasdir.auth import CurrentPrincipal, Principal
from tasdir.contracts.base import utcnow
from tasdir.errors import Problem, Unauthorized
from tasdir.openapi import Responses
from tasdir.pagination import Page, PageParamsDep
from tasdir.routing import SettingsDep, service_router
from tasdir.service import AnyServiceRuntime
from tasdir.settings import Settings

from matching.adapters.orm import Notification
from matching.config import get_matching_settings
from matching.deps import UoW
from matching.service_layer.dispatch import channel as notification_channel
from matching.service_layer.notifications import audiences_of, message

log = logging.getLogger(__name__)

SERVICE = "matching"
PREFIX = "/v1/notifications"
router = service_router(prefix=PREFIX, tags=["notifications"])

#: The most notifications one database read of a stream takes; it reads again for more.
STREAM_BATCH = 100
#: A ticket's random bytes (43 characters in base64url); a longer query value is no ticket.
TICKET_BYTES = 32
MAX_TICKET_LENGTH = 128
#: The largest id a `Last-Event-ID` may name (the ids are 64-bit).
MAX_EVENT_ID = 2**63 - 1
#: A stream that lost Redis tries again after this pause, doubled at each failure up to the
#: ceiling (and never later than its next heartbeat).
REDIS_FIRST_RETRY = 0.2
REDIS_MAX_RETRY = 5.0


class StreamUnavailable(Problem):
    """Redis, which holds the tickets and carries the announcements, is absent or down; or the
    database cannot say where the stream starts."""

    status = 503
    kind = "stream-unavailable"


def _unavailable(detail: str) -> StreamUnavailable:
    return StreamUnavailable(detail, headers={"Retry-After": "5"})


class NotificationPublic(BaseModel):
    id: int
    kind: str = Field(description="One of the kinds of docs/notifications.md.")
    message: str = Field(description="What the kind means, in English.")
    data: dict[str, Any] = Field(description="The objects it is about (ids, statuses).")
    audience: str = Field(description="`org:<org>`, `provider:<id>` or `region:<code>`.")
    created_at: datetime

    @classmethod
    def of(cls, notification: Notification) -> NotificationPublic:
        assert notification.id is not None
        return cls(
            id=notification.id,
            kind=notification.kind,
            message=message(notification.kind),
            data=dict(notification.data),
            audience=notification.audience,
            created_at=notification.created_at,
        )


class StreamTicket(BaseModel):
    ticket: str = Field(description="Opaque; valid once, until `expires_at`.")
    expires_at: datetime
    stream_url: str = Field(description="The stream's path with the ticket, for `EventSource`.")


@router.get("", response_model=Page[NotificationPublic])
async def list_notifications(
    principal: CurrentPrincipal, uow: UoW, params: PageParamsDep
) -> Page[NotificationPublic]:
    """The caller's notifications, newest first."""
    page = await uow.notifications.page(params, audiences=audiences_of(principal))
    return Page(items=[NotificationPublic.of(n) for n in page.items], next_cursor=page.next_cursor)


def _ticket_key(settings: Settings, ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{settings.redis_prefix}stream-ticket:{digest}"


def _redis(request: Request) -> Redis:
    redis: Redis | None = request.app.state.redis
    if redis is None:
        raise _unavailable("notification streams need Redis, and this deployment has none")
    return redis


def _principal_json(principal: Principal) -> str:
    return json.dumps(
        {
            "sub": principal.sub,
            "role": principal.role,
            "org": principal.org,
            "provider_id": None if principal.provider_id is None else str(principal.provider_id),
            "regions": list(principal.regions),
        }
    )


def _principal_of(raw: bytes | str) -> Principal:
    try:
        found = json.loads(raw)
        provider_id = found["provider_id"]
        return Principal(
            sub=str(found["sub"]),
            role=found["role"],
            org=str(found["org"]),
            provider_id=None if provider_id is None else UUID(provider_id),
            regions=tuple(str(region) for region in found["regions"]),
        )
    except (ValueError, TypeError, KeyError):
        log.warning("a stream ticket held an unreadable principal")
        raise Unauthorized("the stream ticket is not valid", kind="invalid-ticket") from None


TICKET_RESPONSES: Responses = {
    201: {"description": "A ticket for the stream, valid once."},
    503: {
        "description": "Redis (which holds the tickets) or the identity provider is unreachable."
    },
}


@router.post("/stream-ticket", status_code=201, responses=TICKET_RESPONSES)
async def issue_stream_ticket(
    principal: CurrentPrincipal, request: Request, settings: SettingsDep
) -> StreamTicket:
    """A ticket that opens the caller's notification stream once, within
    `TASDIR_MATCHING_STREAM_TICKET_TTL_SECONDS` (60 by default)."""
    redis = _redis(request)
    ttl = get_matching_settings().stream_ticket_ttl_seconds
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    expires_at = utcnow() + timedelta(seconds=ttl)
    try:
        await redis.set(_ticket_key(settings, ticket), _principal_json(principal), ex=ttl)
    except (RedisError, OSError) as exc:
        log.warning("cannot store a stream ticket: %s", exc)
        raise _unavailable("the notification stream is unavailable; retry shortly") from None
    return StreamTicket(
        ticket=ticket, expires_at=expires_at, stream_url=f"{PREFIX}/stream?ticket={ticket}"
    )


stream_ticket = APIKeyQuery(
    name="ticket",
    scheme_name="streamTicket",
    description="A ticket from `POST /v1/notifications/stream-ticket`, valid once: browsers' "
    "`EventSource` cannot send an `Authorization` header.",
    auto_error=False,
)


def _event_id_schema(schema: dict[str, Any]) -> None:
    """Documented as the integer it is: a header or a query parameter is never null (FastAPI
    would write `anyOf: [integer, null]`, and a client would send the text `null`)."""
    schema.pop("anyOf", None)
    schema.update(type="integer", minimum=0, maximum=MAX_EVENT_ID)


LastEventIdHeader = Annotated[
    int | None,
    Header(
        alias="Last-Event-ID",
        ge=0,
        le=MAX_EVENT_ID,
        json_schema_extra=_event_id_schema,
        description="The id of the last event received: the stream sends what came after it. "
        "`EventSource` sends it by itself when it reconnects.",
    ),
]
LastEventIdQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_EVENT_ID,
        json_schema_extra=_event_id_schema,
        description="As `Last-Event-ID`, for a client that opens a new `EventSource` (which "
        "cannot set the header); the header wins when both are sent.",
    ),
]


@dataclass
class NotificationStream:
    """One open stream: who it is for, where it is, its subscription."""

    runtime: AnyServiceRuntime
    pubsub: PubSub
    audiences: Sequence[str] | None
    last_id: int
    horizon: int
    heartbeat: float

    def _concerns(self, audience: object) -> bool:
        return self.audiences is None or audience in self.audiences

    async def _published(self) -> int | None:
        found: int | None = None
        try:
            with anyio.CancelScope(shield=True):
                async with self.runtime.uow() as uow:
                    found = await uow.notifications.published_up_to()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("a notification stream cannot read the database: %s", exc)
        return found

    async def _after(self, last_id: int) -> list[NotificationPublic] | None:
        found: list[NotificationPublic] | None = None
        try:
            # A disconnect waits for the read to end, so the session is closed properly.
            with anyio.CancelScope(shield=True):
                async with self.runtime.uow() as uow:
                    rows = await uow.notifications.after(self.audiences, last_id, STREAM_BATCH)
                    # Read before the unit of work ends: its rollback expires the rows.
                    found = [NotificationPublic.of(row) for row in rows]
        except (SQLAlchemyError, OSError) as exc:
            log.warning("a notification stream cannot read the database: %s", exc)
        return found

    async def _unsent(self) -> AsyncIterator[NotificationPublic]:
        """The notifications after the last one sent, up to the horizon, oldest first."""
        while True:
            found = await self._after(self.last_id)
            if not found:
                return
            settled = [n for n in found if n.id <= self.horizon]
            for notification in settled:
                yield notification
            if len(settled) < len(found) or len(found) < STREAM_BATCH:
                return

    def _announced(self, message: dict[str, Any] | None) -> bool:
        """Take in one message of the channel; whether it concerns this stream."""
        if message is None or message.get("type") != "message":
            return False
        try:
            found = json.loads(message["data"])
            notification_id = int(found["id"])
            audience = found["audience"]
        except (ValueError, TypeError, KeyError):
            log.warning("an unreadable notification announcement: %r", message.get("data"))
            return False
        if notification_id <= self.horizon:
            return False  # announced again (a dispatcher restarted), or already read
        self.horizon = notification_id
        return self._concerns(audience)

    async def _listen(self, seconds: float) -> bool:
        """Wait up to `seconds` for announcements; whether one concerns this stream. The
        announcements already waiting are all taken in, so that one read serves them all."""
        concerned = False
        timeout = seconds
        for _ in range(1000):
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
            if message is None:
                break
            concerned = self._announced(message) or concerned
            timeout = 0.0
        return concerned

    async def _refresh_horizon(self) -> None:
        published = await self._published()
        if published is not None and published > self.horizon:
            self.horizon = published

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        loop = asyncio.get_running_loop()
        heartbeat_at = loop.time() + self.heartbeat
        pending = True  # catch up first
        redis_retry: float | None = None  # the pause before trying Redis again, while it fails
        while True:
            if pending:
                pending = False
                async for notification in self._unsent():
                    yield ServerSentEvent(
                        id=str(notification.id),
                        event=notification.kind,
                        data=notification.model_dump(mode="json"),
                    )
                    self.last_id = notification.id
            now = loop.time()
            if now >= heartbeat_at:
                yield ServerSentEvent(comment="heartbeat")
                heartbeat_at = loop.time() + self.heartbeat
                await self._refresh_horizon()
                pending = True
                continue
            try:
                pending = await self._listen(heartbeat_at - now)
            except (RedisError, OSError) as exc:
                # The database still answers: read it at each heartbeat meanwhile, and try
                # Redis again soon (reading resubscribes, see redis-py's PubSub.on_connect).
                if redis_retry is None:
                    log.warning("a notification stream lost Redis (%s); trying again", exc)
                    redis_retry = REDIS_FIRST_RETRY
                pause = min(redis_retry, max(heartbeat_at - loop.time(), 0.0))
                redis_retry = min(redis_retry * 2, REDIS_MAX_RETRY)
                await asyncio.sleep(pause)
                continue
            if redis_retry is not None:
                # Subscribed again: what was announced in between is in the database.
                log.info("a notification stream hears Redis again")
                redis_retry = None
                await self._refresh_horizon()
                pending = True


async def _close(pubsub: PubSub) -> None:
    """Unsubscribe and give the connection back; also on a cancelled request (a server
    shutting down), but never for long, and never raising: Redis may be the reason."""
    with anyio.move_on_after(5, shield=True):
        with contextlib.suppress(RedisError, OSError):
            await pubsub.unsubscribe()
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()


async def open_stream(
    request: Request,
    settings: SettingsDep,
    ticket: Annotated[str | None, Security(stream_ticket)],
    last_event_id_header: LastEventIdHeader = None,
    last_event_id: LastEventIdQuery = None,
) -> AsyncIterator[NotificationStream]:
    """Check and use up the ticket, subscribe, and find where the stream starts: all before
    the response starts, so that each failure is a problem (401, 503), never a broken stream."""
    if not ticket:
        raise Unauthorized(
            f"a stream ticket is required: POST {PREFIX}/stream-ticket", kind="missing-ticket"
        )
    if len(ticket) > MAX_TICKET_LENGTH:
        raise Unauthorized("the stream ticket is not valid", kind="invalid-ticket")
    redis = _redis(request)
    try:
        raw = await redis.getdel(_ticket_key(settings, ticket))
    except (RedisError, OSError) as exc:
        log.warning("cannot read a stream ticket: %s", exc)
        raise _unavailable("the notification stream is unavailable; retry shortly") from None
    if raw is None:
        raise Unauthorized(
            "the stream ticket is unknown, expired or already used", kind="invalid-ticket"
        )
    principal = _principal_of(raw)
    runtime: AnyServiceRuntime = request.app.state.runtimes[SERVICE]
    pubsub = redis.pubsub()
    try:
        # Subscribed before the first read: nothing announced after that read is missed.
        await pubsub.subscribe(notification_channel(settings))
        async with runtime.uow() as uow:
            published = await uow.notifications.published_up_to()
    except (RedisError, OSError, SQLAlchemyError) as exc:
        await _close(pubsub)
        log.warning("cannot open a notification stream: %s", exc)
        raise _unavailable("the notification stream is unavailable; retry shortly") from None
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    stream = NotificationStream(
        runtime=runtime,
        pubsub=pubsub,
        audiences=audiences_of(principal),
        last_id=published if resume is None else resume,
        horizon=published,
        heartbeat=get_matching_settings().stream_heartbeat_seconds,
    )
    try:
        yield stream
    finally:
        await _close(pubsub)


STREAM_RESPONSES: Responses = {
    200: {
        "description": "Server-sent events: one per notification (`id`: the notification's "
        "id, `event`: its kind, `data`: the notification as the list gives it), and a "
        "`: heartbeat` comment every `TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS`."
    },
    401: {"description": "No ticket, or a ticket that is unknown, expired or already used."},
    503: {"description": "Redis or the database is unreachable; retry with a new ticket."},
}


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=STREAM_RESPONSES,
    name="notification_stream",
)
async def notification_stream(
    stream: Annotated[NotificationStream, Depends(open_stream)],
) -> AsyncIterator[ServerSentEvent]:
    """The caller's notifications as they come, as server-sent events. Authenticated by the
    `ticket` alone; resumes after `Last-Event-ID`, or else starts from now."""
    async for event in stream.events():
        yield event


__all__ = ["NotificationPublic", "StreamTicket", "StreamUnavailable", "router"]
