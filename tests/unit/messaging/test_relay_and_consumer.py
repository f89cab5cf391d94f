"""The relay and the consumer against fake transports, on an SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from sqlmodel import col, select
from support.apps import sqlite_runtime
from support.events import exporter_event
from support.fakes import FakeDelivery, FakeTransport
from support.infra import eventually
from support.system import count
from tasdir.contracts import Envelope, events
from tasdir.messaging import EventConsumer
from tasdir.messaging.relay import RetryPolicy, aware
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    runtime = await sqlite_runtime(matching, tmp_path, Settings(environment="development"))
    yield runtime
    await runtime.dispose()


async def add_to_outbox(runtime: ServiceRuntime, *envelopes: Envelope) -> list[Envelope]:
    """Write the events as a service would; returns the envelopes the outbox holds."""
    async with runtime.uow() as uow:
        written = [
            uow.outbox.add(
                envelope.event(),
                aggregate_id=envelope.aggregate_id,
                aggregate_version=envelope.aggregate_version,
            )
            for envelope in envelopes
        ]
        await uow.commit()
    return written


def relay_of(runtime: ServiceRuntime, transport: FakeTransport, **kwargs: Any) -> Any:
    from tasdir.messaging import OutboxRelay

    return OutboxRelay(runtime.sessions, matching.tables.outbox, transport, **kwargs)


async def test_the_relay_publishes_in_commit_order_and_marks_rows_sent(
    runtime: ServiceRuntime,
) -> None:
    envelopes = [exporter_event(name=f"n{i}") for i in range(5)]
    await add_to_outbox(runtime, *envelopes)
    transport = FakeTransport()
    report = await relay_of(runtime, transport).relay_once()
    assert report.published == 5
    assert [
        Envelope.model_validate_json(m.body).payload["legal_name"] for m in transport.published
    ] == [f"n{i}" for i in range(5)]
    assert (await relay_of(runtime, transport).relay_once()).published == 0


class Clock:
    """The relay's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def outbox_row(runtime: ServiceRuntime, event_id: object) -> Any:
    outbox = matching.tables.outbox
    async with runtime.sessions() as session:
        query = select(outbox).where(col(outbox.event_id) == str(event_id))
        return (await session.exec(query)).one()


async def test_a_broker_outage_keeps_rows_pending_without_counting_attempts(
    runtime: ServiceRuntime,
) -> None:
    (written,) = await add_to_outbox(runtime, exporter_event())
    transport = FakeTransport(down=True)
    relay = relay_of(runtime, transport, retry=RetryPolicy(park_after=0))
    for _ in range(3):
        report = await relay.relay_once()
        assert report.unavailable and report.parked == []
    assert (await outbox_row(runtime, written.event_id)).attempts == 0
    transport.down = False
    assert (await relay.relay_once()).published == 1


async def test_a_refused_row_waits_its_backoff_while_the_rows_behind_it_go_out(
    runtime: ServiceRuntime,
) -> None:
    bad, _good = await add_to_outbox(
        runtime, exporter_event(events.ExporterDeactivated), exporter_event()
    )
    transport = FakeTransport(unroutable={bad.type})
    clock = Clock()
    relay = relay_of(runtime, transport, clock=clock, retry=RetryPolicy(base=1, ceiling=8))
    first = await relay.relay_once()
    assert (first.published, first.failed, first.parked) == (1, 1, [])
    row = await outbox_row(runtime, bad.event_id)
    assert row.attempts == 1 and "Unroutable" in row.last_error
    # Not again before its backoff (between half and all of 1 s) has passed.
    assert (await relay.relay_once()).failed == 0
    delays = []
    for _ in range(5):
        before = await outbox_row(runtime, bad.event_id)
        clock.advance(10)
        assert (await relay.relay_once()).failed == 1
        after = await outbox_row(runtime, bad.event_id)
        delays.append((aware(after.next_attempt_at) - clock.now).total_seconds())
        assert after.attempts == before.attempts + 1
    # Exponential with jitter, capped at the ceiling: each within [half, all] of 1·2^(n-1) s.
    for attempt, delay in enumerate(delays, start=2):
        full = min(8.0, 2.0 ** (attempt - 1))
        assert full / 2 <= delay <= full


async def test_a_row_is_set_aside_only_after_the_time_budget_not_after_a_count(
    runtime: ServiceRuntime,
) -> None:
    (bad,) = await add_to_outbox(runtime, exporter_event(events.ExporterDeactivated))
    transport = FakeTransport(unroutable={bad.type})
    clock = Clock()
    relay = relay_of(
        runtime, transport, clock=clock, retry=RetryPolicy(base=0.5, ceiling=30, park_after=600)
    )
    failures = 0
    while clock.now < datetime(2026, 11, 30, 9, 9, 50, tzinfo=UTC):
        failures += (await relay.relay_once()).failed
        clock.advance(31)
    assert failures >= 15  # many attempts in ten minutes, and none of them parks it
    assert (await outbox_row(runtime, bad.event_id)).parked_at is None
    clock.advance(60)
    report = await relay.relay_once()
    assert report.parked == [str(bad.event_id)]
    assert (await outbox_row(runtime, bad.event_id)).parked_at is not None
    # Parked rows are not fetched again.
    clock.advance(3600)
    assert (await relay.relay_once()).failed == 0


async def test_a_broker_that_refuses_for_seconds_then_recovers_loses_and_parks_nothing(
    runtime: ServiceRuntime,
) -> None:
    """The defaults: a short run of nacks (a leader election) must not set anything aside."""
    written = await add_to_outbox(runtime, *(exporter_event(name=f"n{i}") for i in range(20)))
    transport = FakeTransport(rejecting=True)
    relay = relay_of(
        runtime, transport, retry=RetryPolicy(base=0.2, ceiling=1.0), poll_interval=0.05
    )
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(3)
    assert transport.refused >= 40  # every row was refused, several times
    transport.rejecting = False

    async def all_sent() -> bool:
        return len({m.message_id for m in transport.published}) == len(written)

    await eventually(all_sent, timeout=15)
    stop.set()
    await running
    assert {m.message_id for m in transport.published} == {str(e.event_id) for e in written}
    outbox = matching.tables.outbox
    assert await count(runtime, outbox, col(outbox.parked_at).is_not(None)) == 0
    assert await count(runtime, outbox, col(outbox.sent_at).is_(None)) == 0


def consumer_of(runtime: ServiceRuntime, handler: Any = None) -> EventConsumer[Any]:
    handlers = dict(matching.handlers)
    if handler is not None:
        handlers[events.ExporterUpdated.event_type] = handler
    return EventConsumer("matching", runtime.uow, handlers)


async def test_an_unparseable_message_is_dead_lettered(runtime: ServiceRuntime) -> None:
    delivery = FakeDelivery(b"\x00garbage")
    await consumer_of(runtime)(delivery)
    assert delivery.outcome == "dead_letter"


async def test_a_failing_handler_is_requeued_and_writes_nothing(runtime: ServiceRuntime) -> None:
    async def boom(envelope: Envelope, event: Any, uow: Any) -> None:
        await matching.handlers[envelope.type](envelope, event, uow)
        raise RuntimeError("database hiccup")

    delivery = FakeDelivery(exporter_event().to_bytes())
    await consumer_of(runtime, boom)(delivery)
    assert delivery.outcome == "requeue"
    assert await count(runtime, ExporterProjection) == 0
    assert await count(runtime, matching.tables.inbox) == 0


async def test_a_duplicate_is_acked_without_applying_it_again(runtime: ServiceRuntime) -> None:
    calls: list[str] = []

    async def counting(envelope: Envelope, event: Any, uow: Any) -> None:
        calls.append(envelope.type)
        await matching.handlers[envelope.type](envelope, event, uow)

    consumer = consumer_of(runtime, counting)
    body = exporter_event().to_bytes()
    first, second = FakeDelivery(body), FakeDelivery(body, delivery_count=1)
    await consumer(first)
    await consumer(second)
    assert (first.outcome, second.outcome) == ("ack", "ack")
    assert len(calls) == 1


async def test_an_event_nobody_handles_here_is_acked_and_ignored(
    runtime: ServiceRuntime,
) -> None:
    other = exporter_event().model_copy(update={"type": "exporters.some.future.v1"})
    delivery = FakeDelivery(other.to_bytes())
    await consumer_of(runtime)(delivery)
    assert delivery.outcome == "ack"
    assert await count(runtime, matching.tables.inbox) == 0


async def test_the_failure_that_reaches_the_delivery_limit_is_reported_as_dead_lettered(
    runtime: ServiceRuntime,
) -> None:
    async def boom(envelope: Envelope, event: Any, uow: Any) -> None:
        raise RuntimeError("always")

    outcomes: list[str] = []
    consumer = EventConsumer(
        "matching",
        runtime.uow,
        {events.ExporterUpdated.event_type: boom},
        on_outcome=lambda _type, outcome: outcomes.append(outcome),
        delivery_limit=2,
    )
    body = exporter_event().to_bytes()
    for returned in range(3):
        await consumer(FakeDelivery(body, delivery_count=returned))
    assert outcomes == ["requeued", "requeued", "dead_lettered"]
