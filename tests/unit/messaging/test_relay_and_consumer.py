"""The relay and the consumer against fake transports, on an SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from support.apps import sqlite_runtime
from support.events import exporter_event
from support.fakes import FakeDelivery, FakeTransport
from support.infra import eventually
from support.system import count
from tasdir.contracts import Envelope, events
from tasdir.messaging import Batched, EventConsumer
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


# ---- batches: the deliveries that wait are applied in one transaction


async def deliver_together(consumer: EventConsumer[Any], *deliveries: FakeDelivery) -> None:
    """Hand the deliveries over at once, as a broker does up to the prefetch: they are
    applied as one batch."""
    await asyncio.gather(*(consumer(delivery) for delivery in deliveries))


def recording(calls: list[tuple[str, int]], poison: str | None = None) -> Any:
    """matching's handler, noting each call's legal name and unit of work; fails on `poison`."""

    async def handler(envelope: Envelope, event: Any, uow: Any) -> None:
        calls.append((event.legal_name, id(uow)))
        if event.legal_name == poison:
            raise RuntimeError("this handler always fails on poison")
        await matching.handlers[envelope.type](envelope, event, uow)

    return handler


async def test_the_deliveries_that_wait_are_applied_in_one_transaction_then_acked(
    runtime: ServiceRuntime,
) -> None:
    calls: list[tuple[str, int]] = []
    consumer = consumer_of(runtime, recording(calls))
    deliveries = [FakeDelivery(exporter_event(name=f"n{i}").to_bytes()) for i in range(6)]
    await deliver_together(consumer, *deliveries)
    assert [d.outcome for d in deliveries] == ["ack"] * 6
    assert [name for name, _ in calls] == [f"n{i}" for i in range(6)]  # in the order received
    assert len({uow for _, uow in calls}) == 1  # one transaction
    assert await count(runtime, ExporterProjection) == 6
    assert await count(runtime, matching.tables.inbox) == 6


async def test_a_duplicate_inside_a_batch_is_applied_once(runtime: ServiceRuntime) -> None:
    calls: list[tuple[str, int]] = []
    consumer = consumer_of(runtime, recording(calls))
    body = exporter_event(name="twice").to_bytes()
    deliveries = [
        FakeDelivery(exporter_event(name="first").to_bytes()),
        FakeDelivery(body),
        FakeDelivery(exporter_event(name="between").to_bytes()),
        FakeDelivery(body, delivery_count=1),
    ]
    await deliver_together(consumer, *deliveries)
    assert [d.outcome for d in deliveries] == ["ack"] * 4
    assert [name for name, _ in calls] == ["first", "twice", "between"]
    assert await count(runtime, matching.tables.inbox) == 3


async def test_a_poison_message_inside_a_batch_is_requeued_alone(runtime: ServiceRuntime) -> None:
    calls: list[tuple[str, int]] = []
    outcomes: list[str] = []
    consumer = EventConsumer(
        "matching",
        runtime.uow,
        {events.ExporterUpdated.event_type: recording(calls, poison="poison")},
        on_outcome=lambda _type, outcome: outcomes.append(outcome),
        delivery_limit=5,
    )
    names = ["first", "good 1", "poison", "good 2", "good 3"]
    deliveries = [FakeDelivery(exporter_event(name=name).to_bytes()) for name in names]
    await deliver_together(consumer, *deliveries)
    assert [d.outcome for d in deliveries] == ["ack", "ack", "requeue", "ack", "ack"]
    # The poison's handler ran once for its one delivery, as it would have alone: that is one
    # failed delivery towards the limit, and the others were not counted against theirs.
    assert [name for name, _ in calls].count("poison") == 1
    assert sorted(outcomes) == ["consumed"] * 4 + ["requeued"]
    assert await count(runtime, ExporterProjection) == 4
    assert await count(runtime, matching.tables.inbox) == 4


async def test_a_database_error_in_a_batch_applies_each_delivery_alone(
    runtime: ServiceRuntime,
) -> None:
    """A database error may come from any event of the transaction: nobody is blamed, each is
    applied again in its own transaction."""
    failed_once: list[str] = []

    async def hiccup(envelope: Envelope, event: Any, uow: Any) -> None:
        if event.legal_name == "hiccup" and not failed_once:
            failed_once.append(event.legal_name)
            raise OperationalError("SELECT 1", {}, ConnectionError("connection reset"))
        await matching.handlers[envelope.type](envelope, event, uow)

    consumer = consumer_of(runtime, hiccup)
    names = ["first", "good 1", "hiccup", "good 2"]
    deliveries = [FakeDelivery(exporter_event(name=name).to_bytes()) for name in names]
    await deliver_together(consumer, *deliveries)
    assert [d.outcome for d in deliveries] == ["ack"] * 4
    assert await count(runtime, ExporterProjection) == 4


class LostAck(FakeDelivery):
    """The consumer died between the commit and the ack: the broker never heard of it."""

    async def ack(self) -> None:
        self.outcome = None


async def test_a_batch_redelivered_after_a_crash_between_commit_and_ack_changes_nothing(
    runtime: ServiceRuntime,
) -> None:
    calls: list[tuple[str, int]] = []
    consumer = consumer_of(runtime, recording(calls))
    bodies = [exporter_event(name=f"n{i}").to_bytes() for i in range(5)]
    await deliver_together(consumer, *(LostAck(body) for body in bodies))
    assert len(calls) == 5
    outcomes: list[str] = []
    again = EventConsumer(
        "matching",
        runtime.uow,
        {events.ExporterUpdated.event_type: recording(calls)},
        on_outcome=lambda _type, outcome: outcomes.append(outcome),
    )
    redelivered = [FakeDelivery(body, delivery_count=1) for body in bodies]
    await deliver_together(again, *redelivered)
    assert [d.outcome for d in redelivered] == ["ack"] * 5
    assert outcomes == ["duplicate"] * 5
    assert len(calls) == 5  # no handler ran again
    assert await count(runtime, ExporterProjection) == 5
    assert await count(runtime, matching.tables.inbox) == 5


async def test_a_commit_that_wrote_outbox_rows_wakes_the_relay_of_its_process(
    runtime: ServiceRuntime,
) -> None:
    """The embedded mode: no NOTIFY on SQLite, an in-process signal instead. With an hour
    between polls, only the wake-up can publish the rows in time."""
    transport = FakeTransport()
    relay = relay_of(runtime, transport, poll_interval=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        for batch in range(3):
            await add_to_outbox(runtime, exporter_event(name=f"n{batch}"))

            async def published(expected: int = batch + 1) -> bool:
                return len(transport.published) == expected

            await eventually(published, timeout=20)
    finally:
        stop.set()
        await running


def batched_exporters(calls: list[int], fail: bool = False) -> Batched[Any]:
    """matching's exporter handler with a form for several events: one upsert for the run."""

    async def many(items: Any, uow: Any) -> None:
        calls.append(len(items))
        if fail:
            raise RuntimeError("the batch form failed")
        await uow.exporters.apply_events(items)

    async def one(envelope: Envelope, event: Any, uow: Any) -> None:
        calls.append(1)
        await uow.exporters.apply_event(envelope, event)

    return Batched(one, many)


async def test_a_handler_with_a_batch_form_gets_the_run_of_its_events_at_once(
    runtime: ServiceRuntime,
) -> None:
    calls: list[int] = []
    consumer = consumer_of(runtime, batched_exporters(calls))
    exporter_id = str(uuid4())
    envelopes = [
        exporter_event(name="first"),
        exporter_event(exporter_id=exporter_id, version=2, name="newer"),
        exporter_event(exporter_id=exporter_id, version=1, name="older"),
        exporter_event(name="other"),
    ]
    deliveries = [FakeDelivery(envelope.to_bytes()) for envelope in envelopes]
    await deliver_together(consumer, *deliveries)
    assert [d.outcome for d in deliveries] == ["ack"] * 4
    assert calls == [4]  # one call for the run
    async with runtime.sessions() as session:
        row = await session.get(ExporterProjection, UUID(exporter_id))
    assert row is not None and (row.legal_name, row.aggregate_version) == ("newer", 2)
    assert await count(runtime, matching.tables.inbox) == 4


async def test_a_failing_batch_form_blames_nobody_and_applies_each_alone(
    runtime: ServiceRuntime,
) -> None:
    calls: list[int] = []
    consumer = consumer_of(runtime, batched_exporters(calls, fail=True))
    deliveries = [FakeDelivery(exporter_event(name=f"n{i}").to_bytes()) for i in range(4)]
    await deliver_together(consumer, *deliveries)
    assert [d.outcome for d in deliveries] == ["ack"] * 4
    assert calls == [4, 1, 1, 1, 1]
    assert await count(runtime, ExporterProjection) == 4
