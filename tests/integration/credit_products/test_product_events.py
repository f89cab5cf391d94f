"""Products on PostgreSQL and real RabbitMQ: each action publishes exactly one event with the
full snapshot, and matching's projection applies a withdrawal that follows a revision."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import aio_pika
import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from matching.adapters.orm import ProductProjection
from matching.bootstrap import definition as matching
from support import infra
from support.infra import DatabaseFactory
from support.system import Running, running
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.contracts import Envelope
from tasdir.messaging import EVENTS_EXCHANGE, RabbitTransport
from tasdir.settings import Settings
from unit.credit_products.test_products_api import loan

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)


@pytest.fixture
async def system(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Running]:
    services = [(credit_products, await databases()), (matching, await databases())]
    async with running(services, broker, settings=SETTINGS) as started:
        yield started


@pytest.fixture
async def probe(rabbit: tuple[str, str]) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    connection = await aio_pika.connect(rabbit[1])
    channel = await connection.channel()
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="credit_products.product.#")
    yield queue
    await connection.close()


async def drained(queue: aio_pika.abc.AbstractQueue, count: int) -> list[Envelope]:
    got: list[Envelope] = []

    async def enough() -> bool:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            got.append(Envelope.model_validate_json(message.body))
        return len(got) >= count

    await infra.eventually(enough, timeout=30)
    await asyncio.sleep(0.5)
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        got.append(Envelope.model_validate_json(message.body))
    return got


async def projected(system: Running, product_id: str) -> Any:
    async with system["matching"].sessions() as session:
        return await session.get(ProductProjection, UUID(product_id))


async def test_each_action_is_one_event_and_matching_applies_them_in_order(
    system: Running, probe: aio_pika.abc.AbstractQueue
) -> None:
    app = create_app("credit_products", [system["credit_products"]], SETTINGS)
    admin = bearer(SETTINGS, "admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        provider = (
            await c.post(
                "/v1/providers", json={"name": "B", "kind": "bank", "country": "MA"}, headers=admin
            )
        ).json()
        bank = bearer(SETTINGS, "provider", provider_id=provider["id"])
        product = (await c.post("/v1/products", json=loan(), headers=bank)).json()
        url = f"/v1/products/{product['id']}"
        await c.patch(url, json={"decision_days": 5}, headers=bank)  # the draft: no event
        await c.post(f"{url}/publish", headers=bank)
        await c.patch(url, json={"tenor_max_days": 180}, headers=bank)  # draft of version 2
        await c.post(f"{url}/publish", headers=bank)
        await c.post(f"{url}/withdraw", headers=bank)
    got = await drained(probe, 3)
    assert [(e.type, e.aggregate_version, e.payload["product_version"]) for e in got] == [
        ("credit_products.product.published.v1", 1, 1),
        ("credit_products.product.published.v1", 2, 2),
        ("credit_products.product.withdrawn.v1", 3, 2),
    ]
    assert got[0].payload["decision_days"] == 5 and got[0].payload["tenor_max_days"] == 360
    assert got[1].payload["tenor_max_days"] == 180
    assert got[2].payload["eligibility"]["destinations_include"] == ["afcfta"]
    assert got[2].payload["pricing"]["indicative_rate_pct"] == 5.5

    async def withdrawn() -> bool:
        row = await projected(system, product["id"])
        return row is not None and row.status == "withdrawn"

    # The withdrawal follows the revision: it is newer by aggregate_version, never "old".
    await infra.eventually(withdrawn, timeout=30)
    row = await projected(system, product["id"])
    assert (row.aggregate_version, row.product_version, row.instrument) == (
        3,
        2,
        "pre_export_finance",
    )
