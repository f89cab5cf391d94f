"""The relay and the consumer against fake transports, on an SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from support.apps import sqlite_runtime
from support.events import exporter_event
from support.fakes import FakeDelivery, FakeTransport
from support.system import count
from tasdir.contracts import Envelope, events
from tasdir.messaging import EventConsumer
from tasdir.runtime import ServiceRuntime
from tasdir.settings import Settings


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    runtime = await sqlite_runtime(matching, tmp_path, Settings(environment="test"))
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

    return OutboxRelay(runtime.sessions, matching.tables.outbox, transport, **kwargs)  # type: ignore[arg-type]


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


async def test_a_broker_outage_keeps_rows_pending_without_counting_attempts(
    runtime: ServiceRuntime,
) -> None:
    await add_to_outbox(runtime, exporter_event())
    transport = FakeTransport(down=True)
    relay = relay_of(runtime, transport, max_attempts=1)
    for _ in range(3):
        report = await relay.relay_once()
        assert report.unavailable and report.parked == []
    transport.down = False
    assert (await relay.relay_once()).published == 1


async def test_a_row_that_keeps_failing_is_set_aside_after_max_attempts(
    runtime: ServiceRuntime,
) -> None:
    bad = exporter_event(events.ExporterDeactivated)
    good = exporter_event()
    bad, _good = await add_to_outbox(runtime, bad, good)
    transport = FakeTransport(unroutable={bad.type})
    relay = relay_of(runtime, transport, max_attempts=3)
    reports = [await relay.relay_once() for _ in range(4)]
    assert reports[0].published == 1  # the good row behind it is not blocked
    assert [r.failed for r in reports] == [1, 1, 1, 0]
    assert reports[2].parked == [str(bad.event_id)]


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
