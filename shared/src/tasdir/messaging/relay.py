"""The outbox relay: publishes committed events that are not sent yet, then marks them sent.

A crash between the commit and the publish loses nothing: the row is still unsent and the next
relay publishes it (consumers dedupe through their inbox). On PostgreSQL the batch is locked
with `FOR UPDATE SKIP LOCKED`, so several relays share the work; SQLite runs one relay.

Failures:
- The broker unreachable (`TransportUnavailable`) is nobody's fault: the row keeps its attempts
  and the whole relay backs off.
- A row the broker refuses (a negative confirm during a leader election, no queue bound) is
  retried on its own clock, with exponential backoff and jitter, while the rows behind it go
  out. It is set aside (`parked_at`) only after it has kept failing for the time budget
  (`RetryPolicy.park_after`, ten minutes by default), never after a count of quick attempts.
  An operator lists and retries parked rows (`tasdir outbox parked|retry`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from tasdir.contracts import utcnow
from tasdir.db.signals import OutboxWakeup
from tasdir.db.tables import OutboxFields
from tasdir.messaging.transport import OutgoingMessage, Publisher, TransportUnavailable

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RetryPolicy:
    """When a failing row is tried again, and when it is set aside."""

    base: float = 0.5
    ceiling: float = 30.0
    park_after: float = 600.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter: between half and all of base·2^(n-1)."""
        full = min(self.ceiling, self.base * 2 ** max(0, attempts - 1))
        return rng.uniform(full / 2, full)


@dataclass
class RelayReport:
    published: int = 0
    failed: int = 0
    parked: list[str] = field(default_factory=list)
    unavailable: bool = False


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    parked: int
    oldest_pending: datetime | None


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive UTC; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def outbox_counts(session: AsyncSession, outbox: type[OutboxFields]) -> OutboxCounts:
    """Pending and parked rows, and the oldest pending one, in one query."""
    parked = col(outbox.parked_at).is_not(None)
    query = select(
        func.count().filter(~parked),
        func.count().filter(parked),
        func.min(outbox.created_at).filter(~parked),
    ).where(col(outbox.sent_at).is_(None))
    pending, parked_count, oldest = (await session.exec(query)).one()
    return OutboxCounts(
        int(pending or 0), int(parked_count or 0), aware(oldest) if oldest else None
    )


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: type[OutboxFields],
        transport: Publisher,
        *,
        service: str = "",
        batch_size: int = 100,
        retry: RetryPolicy | None = None,
        poll_interval: float = 0.2,
        max_backoff: float = 5.0,
        clock: Clock = utcnow,
        seed: int | None = None,
        on_counts: Callable[[OutboxCounts], None] | None = None,
        counts_interval: float = 5.0,
        fault: Callable[[str], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._transport = transport
        self.service = service
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._clock = clock
        self._rng = random.Random(seed)
        self._on_counts = on_counts
        self._counts_interval = counts_interval
        self._counted_at: float | None = None
        self.wake = asyncio.Event()
        # Fault injection for crash tests: called with "fetched" (rows locked, nothing published)
        # and "published" (broker confirmed, rows not yet marked sent).
        self._fault = fault or (lambda _stage: None)

    def _pending(self, now: datetime) -> SelectOfScalar[OutboxFields]:
        model = self._outbox
        return (
            select(model)
            .where(
                col(model.sent_at).is_(None),
                col(model.parked_at).is_(None),
                or_(col(model.next_attempt_at).is_(None), col(model.next_attempt_at) <= now),
            )
            .order_by(col(model.id))
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)  # not rendered on SQLite, which has one relay
        )

    def _failed(self, row: OutboxFields, error: Exception, now: datetime) -> bool:
        """Record a refused publish; True if the row is now set aside."""
        row.attempts += 1
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        first = aware(row.first_failed_at) if row.first_failed_at else now
        row.first_failed_at = first
        failing_for = (now - first).total_seconds()
        if failing_for >= self.retry.park_after:
            row.parked_at = now
            row.next_attempt_at = None
            log.error(
                "outbox event set aside after failing for %.0fs (%d attempts)",
                failing_for,
                row.attempts,
                extra={
                    "event_id": row.event_id,
                    "event_type": row.event_type,
                    "error": row.last_error,
                },
            )
            return True
        delay = self.retry.delay(row.attempts, self._rng)
        row.next_attempt_at = now + timedelta(seconds=delay)
        log.warning(
            "outbox publish failed (attempt %d); retrying in %.1fs: %s",
            row.attempts,
            delay,
            row.last_error,
            extra={"event_id": row.event_id},
        )
        return False

    async def relay_once(self) -> RelayReport:
        """Publish one batch. Rows stay locked until their outcome is committed."""
        report = RelayReport()
        async with self._sessions() as session, session.begin():
            rows: Sequence[OutboxFields] = (await session.exec(self._pending(self._clock()))).all()
            if not rows:
                return report
            self._fault("fetched")
            outcomes = await asyncio.gather(
                *(self._transport.publish(OutgoingMessage.from_outbox(row)) for row in rows),
                return_exceptions=True,
            )
            self._fault("published")
            now = self._clock()
            sent = [row.id for row, outcome in zip(rows, outcomes, strict=True) if outcome is None]
            await self._mark_sent(session, sent, now)
            report.published = len(sent)
            for row, outcome in zip(rows, outcomes, strict=True):
                if outcome is None:
                    continue
                if isinstance(outcome, TransportUnavailable):
                    # The broker is away: the message is fine and keeps its attempts.
                    report.unavailable = True
                elif isinstance(outcome, Exception):  # Unroutable, PublishRejected or worse
                    report.failed += 1
                    if self._failed(row, outcome, now):
                        report.parked.append(row.event_id)
                else:  # a BaseException such as cancellation: let it through
                    raise outcome
                session.add(row)
        return report

    async def _mark_sent(self, session: AsyncSession, ids: list[int | None], now: datetime) -> None:
        """One statement for the whole batch: the ORM would send an UPDATE per row."""
        if not ids:
            return
        model = self._outbox
        statement = (
            update(model)
            .where(col(model.id).in_(ids))
            .values(sent_at=now, next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        await session.exec(statement)

    async def counts(self) -> OutboxCounts:
        async with self._sessions() as session:
            return await outbox_counts(session, self._outbox)

    async def report_counts(self, *, force: bool = False) -> None:
        """Refresh the outbox gauges now and then: one query, never one per scrape."""
        if self._on_counts is None:
            return
        loop_time = asyncio.get_running_loop().time()
        recent = (
            self._counted_at is not None and loop_time - self._counted_at < self._counts_interval
        )
        if recent and not force:
            return
        self._counted_at = loop_time
        try:
            self._on_counts(await self.counts())
        except Exception:
            log.warning("outbox unreadable for metrics", exc_info=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set. Survives broker and database outages. A commit that
        wrote outbox rows wakes it (`tasdir.db.signals`); otherwise it polls."""
        engine = self._sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            await self._loop(stop, None)
            return
        async with OutboxWakeup(engine, self.wake).opened() as wakeup:
            await self._loop(stop, wakeup)

    async def _loop(self, stop: asyncio.Event, wakeup: OutboxWakeup | None) -> None:
        backoff = self.poll_interval
        while not stop.is_set():
            # Cleared before the batch is read, so a commit during the batch wakes the next.
            self.wake.clear()
            try:
                report = await self.relay_once()
            except Exception:
                log.exception("outbox relay failed; retrying")
                report = RelayReport(unavailable=True)
            await self.report_counts()
            if report.unavailable:
                backoff = min(backoff * 2, self.max_backoff)
                await _sleep_or(stop, backoff)
                continue
            backoff = self.poll_interval
            if report.published == 0:
                if wakeup is not None:
                    await wakeup.keep_listening()
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


__all__ = ["OutboxCounts", "OutboxRelay", "RelayReport", "RetryPolicy", "outbox_counts"]
