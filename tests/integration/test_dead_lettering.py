"""Poison and unreadable messages end in the DLQ, and the consumer goes on behind them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from matching.bootstrap import definition as matching
from matching.service_layer.handlers import project_exporter
from support import infra
from support.events import exporter_event
from support.infra import DatabaseFactory
from support.system import Running, count, running
from tasdir.contracts import Envelope, events
from tasdir.messaging import OutgoingMessage, RabbitTransport, service_queue

QUEUE = service_queue("matching")
calls: dict[str, int] = {}


async def fails_on_poison(envelope: Envelope, event: Any, uow: Any) -> None:
    calls[envelope.aggregate_id] = calls.get(envelope.aggregate_id, 0) + 1
    if event.legal_name == "poison":
        raise RuntimeError("this handler always fails on poison")
    await project_exporter(envelope, event, uow)


@pytest.fixture
async def system(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Running]:
    calls.clear()
    definition = dataclasses.replace(
        matching, handlers={events.ExporterUpdated.event_type: fails_on_poison}
    )
    async with running([(definition, await databases())], broker, relays=False) as started:
        yield started


async def dead_letters(transport: RabbitTransport, expected: int) -> list[bytes]:
    bodies: list[bytes] = []

    async def arrived() -> bool:
        while (delivery := await transport.get(QUEUE.dlq_name)) is not None:
            bodies.append(delivery.body)
            await delivery.ack()
        return len(bodies) >= expected

    await infra.eventually(arrived, timeout=30)
    return bodies


async def test_a_poison_message_is_dead_lettered_after_exactly_the_delivery_limit(
    system: Running,
) -> None:
    transport = system["matching"].transport
    assert isinstance(transport, RabbitTransport)
    poison = exporter_event(name="poison")
    behind = [exporter_event(name=f"good {i}") for i in range(5)]
    for envelope in [poison, *behind]:
        await transport.publish(OutgoingMessage.from_envelope(envelope))

    bodies = await dead_letters(transport, 1)
    assert bodies == [OutgoingMessage.from_envelope(poison).body]
    # Delivered once, then redelivered until the quorum queue's limit dead-letters it.
    assert calls[poison.aggregate_id] == QUEUE.delivery_limit + 1

    async def good_applied() -> bool:
        return await count(system["matching"], matching.tables.inbox) == len(behind)

    await infra.eventually(good_applied)
    assert await transport.queue_depth(QUEUE.dlq_name) == 0


async def test_an_unreadable_message_goes_to_the_dlq_at_once(system: Running) -> None:
    transport = system["matching"].transport
    assert isinstance(transport, RabbitTransport)
    garbage = OutgoingMessage("exporters.exporter.updated.v1", b"{not json", "junk-1", "")
    wrong_payload = OutgoingMessage(
        "exporters.exporter.updated.v1",
        exporter_event().model_copy(update={"payload": {"id": "nope"}}).to_bytes(),
        "junk-2",
        "",
    )
    behind = [exporter_event(name=f"good {i}") for i in range(3)]
    await transport.publish(garbage)
    await transport.publish(wrong_payload)
    for envelope in behind:
        await transport.publish(OutgoingMessage.from_envelope(envelope))

    bodies = await dead_letters(transport, 2)
    assert sorted(bodies) == sorted([garbage.body, wrong_payload.body])

    async def good_applied() -> bool:
        return await count(system["matching"], matching.tables.inbox) == len(behind)

    await infra.eventually(good_applied)
    # Neither reached a handler: no retry can make them readable.
    assert sum(calls.values()) == len(behind)
