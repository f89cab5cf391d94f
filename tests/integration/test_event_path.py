"""An exporter registered over HTTP reaches matching's projection through real RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import httpx
import pytest
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from sqlmodel import select
from support import infra
from support.events import exporter_event
from support.infra import DatabaseFactory
from support.system import Running, count, running
from tasdir.api import create_app
from tasdir.auth import issue_token
from tasdir.messaging import OutgoingMessage, RabbitTransport
from tasdir.settings import Settings

SETTINGS = Settings(environment="development")


@pytest.fixture
async def system(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Running]:
    services = [(exporters, await databases()), (matching, await databases())]
    async with running(services, broker, settings=SETTINGS) as started:
        yield started


async def projection(system: Running, exporter_id: object) -> ExporterProjection | None:
    async with system["matching"].sessions() as session:
        result = await session.exec(
            select(ExporterProjection).where(ExporterProjection.id == UUID(str(exporter_id)))
        )
        return result.first()


async def test_registration_reaches_the_matching_projection(system: Running) -> None:
    app = create_app("exporters", [system["exporters"]], SETTINGS)
    token = issue_token(SETTINGS, role="exporter", sub="user-1", org="org-atlas")
    correlation_id = str(uuid4())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post(
            "/v1/exporters",
            json={"legal_name": "Atlas Agrumes", "ice": "001234567000089", "region": "oriental"},
            headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation_id},
        )
    assert response.status_code == 201, response.text
    assert response.headers["x-correlation-id"] == correlation_id
    exporter_id = response.json()["id"]

    async def projected() -> ExporterProjection | None:
        return await projection(system, exporter_id)

    row = await infra.eventually(projected)
    assert (row.org, row.region, row.aggregate_version) == ("org-atlas", "oriental", 1)

    outbox = exporters.tables.outbox
    async with system["exporters"].sessions() as session:
        sent = (await session.exec(select(outbox))).one()
    assert sent.sent_at is not None
    assert sent.correlation_id == correlation_id


async def test_the_same_event_twice_changes_the_projection_once(system: Running) -> None:
    envelope = exporter_event(version=1, name="Souss Primeurs")
    message = OutgoingMessage.from_envelope(envelope)
    for _ in range(3):
        await system["matching"].transport.publish(message)
    inbox = matching.tables.inbox

    async def seen_once() -> bool:
        return await count(system["matching"], inbox) == 1

    await infra.eventually(seen_once)
    later = exporter_event(exporter_id=envelope.aggregate_id, version=2, name="Souss Primeurs 2")
    await system["matching"].transport.publish(OutgoingMessage.from_envelope(later))

    async def two_applied() -> bool:
        return await count(system["matching"], inbox) == 2

    await infra.eventually(two_applied)
    row = await projection(system, envelope.aggregate_id)
    assert row is not None
    assert (row.legal_name, row.aggregate_version) == ("Souss Primeurs 2", 2)
    assert await count(system["matching"], ExporterProjection) == 1


async def test_an_older_version_after_a_newer_one_changes_nothing(system: Running) -> None:
    newer = exporter_event(version=3, name="Newer name")
    older = exporter_event(exporter_id=newer.aggregate_id, version=2, name="Older name")
    transport = system["matching"].transport
    await transport.publish(OutgoingMessage.from_envelope(newer))

    async def newer_applied() -> ExporterProjection | None:
        return await projection(system, newer.aggregate_id)

    await infra.eventually(newer_applied)
    await transport.publish(OutgoingMessage.from_envelope(older))

    async def older_consumed() -> bool:
        return await count(system["matching"], matching.tables.inbox) == 2

    await infra.eventually(older_consumed)
    row = await projection(system, newer.aggregate_id)
    assert row is not None
    assert (row.legal_name, row.aggregate_version) == ("Newer name", 3)
