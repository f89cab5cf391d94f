"""One contract, two transports: the in-process bus must behave like RabbitMQ where it matters.

Every test here runs on the in-process bus (plain, and shuffling and duplicating deliveries) and
on a real RabbitMQ vhost of its own.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from sqlmodel import select
from support import infra
from support.events import exporter_event
from support.system import count, running
from tasdir.contracts import Envelope
from tasdir.messaging import (
    Chaos,
    InProcessBus,
    OutgoingMessage,
    RabbitTransport,
    ServiceQueue,
    Unroutable,
    service_queue,
)
from tasdir.messaging.transport import Delivery, Transport

ALPHA = ServiceQueue("alpha", bindings=("exporters.exporter.*.v1",), delivery_limit=2)
BETA = ServiceQueue("beta", bindings=("exporters.#",), delivery_limit=2)
TOPOLOGY = (ALPHA, BETA, service_queue("matching"))


@pytest.fixture(
    params=[
        "inproc",
        "inproc-chaos",
        pytest.param("rabbitmq", marks=pytest.mark.integration),
    ]
)
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    vhost = None
    bus: Transport
    if request.param == "rabbitmq":
        vhost, url = infra.create_vhost()
        bus = RabbitTransport(url, topology=TOPOLOGY)
    elif request.param == "inproc-chaos":
        bus = InProcessBus(topology=TOPOLOGY, chaos=Chaos(duplicate_rate=0.3, seed=7))
    else:
        bus = InProcessBus(topology=TOPOLOGY)
    await bus.connect()
    await bus.declare_topology()
    try:
        yield bus
    finally:
        await bus.close()
        if vhost:
            infra.delete_vhost(vhost)


def message(envelope: Envelope) -> OutgoingMessage:
    return OutgoingMessage.from_envelope(envelope)


async def drain(transport: Transport, queue: str, expected: int) -> list[Delivery]:
    taken: list[Delivery] = []

    async def all_taken() -> bool:
        while (delivery := await transport.get(queue)) is not None:
            await delivery.ack()
            taken.append(delivery)
        return len(taken) >= expected

    await infra.eventually(all_taken, timeout=10)
    return taken


async def test_routes_by_topic_wildcards(transport: Transport) -> None:
    await transport.publish(message(exporter_event()))
    request = exporter_event().model_copy(update={"type": "exporters.financing_request.x.v1"})
    await transport.publish(message(request))

    alpha = await drain(transport, ALPHA.name, 1)
    beta = await drain(transport, BETA.name, 2)
    assert {d.routing_key for d in alpha} == {"exporters.exporter.updated.v1"}
    assert {d.routing_key for d in beta} == {
        "exporters.exporter.updated.v1",
        "exporters.financing_request.x.v1",
    }


async def test_unroutable_publish_raises(transport: Transport) -> None:
    stray = exporter_event().model_copy(update={"type": "nobody.listens.here.v1"})
    with pytest.raises(Unroutable):
        await transport.publish(message(stray))


async def test_requeued_message_is_dead_lettered_after_the_delivery_limit(
    transport: Transport,
) -> None:
    envelope = exporter_event()
    seen: list[int] = []

    async def always_fails(delivery: Delivery) -> None:
        seen.append(delivery.delivery_count)
        await delivery.requeue()

    subscription = await transport.consume(ALPHA.name, always_fails, prefetch=1)
    await transport.publish(message(envelope))
    dead = await drain(transport, ALPHA.dlq_name, 1)
    await subscription.cancel()

    # Delivered once, then returned `delivery_limit` times; the next return dead-letters it.
    assert len(seen) == ALPHA.delivery_limit + 1
    assert seen == list(range(ALPHA.delivery_limit + 1))
    assert [d.body for d in dead] == [message(envelope).body]


async def test_rejected_message_goes_to_the_dlq_at_once(transport: Transport) -> None:
    seen: list[bytes] = []

    async def reject(delivery: Delivery) -> None:
        seen.append(delivery.body)
        await delivery.dead_letter()

    subscription = await transport.consume(ALPHA.name, reject, prefetch=1)
    await transport.publish(message(exporter_event()))
    dead = await drain(transport, ALPHA.dlq_name, 1)
    await subscription.cancel()
    assert len(seen) == 1
    assert dead[0].body == seen[0]


async def test_projection_converges_under_shuffled_and_duplicated_deliveries(
    transport: Transport, tmp_path: object
) -> None:
    exporters = [str(uuid4()) for _ in range(6)]
    history = [
        exporter_event(exporter_id=exporter_id, version=version, name=f"v{version}")
        for exporter_id in exporters
        for version in range(1, 5)
    ]
    rng = random.Random(11)
    sends = history + rng.sample(history, k=len(history) // 2)  # duplicates
    rng.shuffle(sends)

    url = f"sqlite+aiosqlite:///{tmp_path}/matching.db"
    async with running([(matching, url)], transport, relays=False) as system:
        for envelope in sends:
            await transport.publish(message(envelope))

        runtime = system["matching"]
        inbox = matching.tables.inbox

        async def settled() -> bool:
            return await count(runtime, inbox) == len(history)

        await infra.eventually(settled, timeout=30)
        await asyncio.sleep(0.3)  # late duplicates still in flight must change nothing

        async with runtime.sessions() as session:
            rows = {
                str(row.id): row for row in (await session.exec(select(ExporterProjection))).all()
            }
        assert set(rows) == set(exporters)
        assert {row.aggregate_version for row in rows.values()} == {4}
        assert {row.legal_name for row in rows.values()} == {"v4"}
        assert await count(runtime, inbox) == len(history)
