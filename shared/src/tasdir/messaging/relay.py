"""The outbox relay: publishes committed events that are not sent yet, then marks them sent.

A crash between the commit and the publish loses nothing: the row is still unsent and the next
relay publishes it (consumers dedupe through their inbox). On PostgreSQL the batch is locked
with `FOR UPDATE SKIP LOCKED`, so several relays share the work; SQLite runs one relay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tasdir.contracts import utcnow
from tasdir.messaging.transport import (
    OutgoingMessage,
    Transport,
    TransportUnavailable,
)

log = logging.getLogger(__name__)


@dataclass
class RelayReport:
    published: int = 0
    failed: int = 0
    parked: list[str] = field(default_factory=list)
    unavailable: bool = False


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Any,
        transport: Transport,
        *,
        batch_size: int = 100,
        max_attempts: int = 5,
        poll_interval: float = 0.2,
        max_backoff: float = 5.0,
        fault: Callable[[str], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._transport = transport
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.wake = asyncio.Event()
        # Fault injection for crash tests: called with "fetched" (rows locked, nothing published)
        # and "published" (broker confirmed, rows not yet marked sent).
        self._fault = fault or (lambda _stage: None)

    def _pending(self) -> Any:
        model = self._outbox
        return (
            select(model)
            .where(col(model.sent_at).is_(None), col(model.parked_at).is_(None))
            .order_by(col(model.id))
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)  # not rendered on SQLite, which has one relay
        )

    async def relay_once(self) -> RelayReport:
        """Publish one batch. Rows stay locked until their outcome is committed."""
        report = RelayReport()
        async with self._sessions() as session, session.begin():
            rows: Sequence[Any] = (await session.exec(self._pending())).all()
            if not rows:
                return report
            self._fault("fetched")
            outcomes = await asyncio.gather(
                *(self._transport.publish(OutgoingMessage.from_outbox(row)) for row in rows),
                return_exceptions=True,
            )
            self._fault("published")
            now = utcnow()
            for row, outcome in zip(rows, outcomes, strict=True):
                if outcome is None:
                    row.sent_at = now
                    report.published += 1
                elif isinstance(outcome, TransportUnavailable):
                    # The broker is away: the message is fine and keeps its attempts.
                    report.unavailable = True
                elif isinstance(outcome, Exception):  # Unroutable, PublishRejected or worse
                    report.failed += 1
                    row.attempts += 1
                    row.last_error = f"{type(outcome).__name__}: {outcome}"[:2000]
                    if row.attempts >= self.max_attempts:
                        row.parked_at = now
                        report.parked.append(row.event_id)
                        log.error(
                            "outbox event set aside after %d attempts",
                            row.attempts,
                            extra={
                                "event_id": row.event_id,
                                "event_type": row.event_type,
                                "error": row.last_error,
                            },
                        )
                    else:
                        log.warning(
                            "outbox publish failed: %s",
                            row.last_error,
                            extra={"event_id": row.event_id},
                        )
                else:  # a BaseException such as cancellation: let it through
                    raise outcome
                session.add(row)
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set. Survives broker and database outages."""
        backoff = self.poll_interval
        while not stop.is_set():
            try:
                report = await self.relay_once()
            except Exception:
                log.exception("outbox relay failed; retrying")
                report = RelayReport(unavailable=True)
            if report.unavailable:
                backoff = min(backoff * 2, self.max_backoff)
                await _sleep_or(stop, backoff)
                continue
            backoff = self.poll_interval
            if report.published == 0 and report.failed == 0:
                self.wake.clear()
                await _sleep_or(stop, self.poll_interval, self.wake)


async def _sleep_or(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    waiters = [asyncio.create_task(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.create_task(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
