"""Providers registered over credit_products' HTTP API reach matching's and exporters'
projections through real RabbitMQ, on PostgreSQL; a late, older event changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from exporters.adapters.orm import ProviderProjection as ExportersProviders
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import ProviderProjection as MatchingProviders
from matching.bootstrap import definition as matching
from support import infra
from support.infra import DatabaseFactory
from support.system import Running, count, running
from tasdir.api import create_app
from tasdir.auth import issue_token
from tasdir.contracts import Envelope, events
from tasdir.messaging import OutgoingMessage, RabbitTransport
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development")
PROJECTIONS = (("matching", MatchingProviders), ("exporters", ExportersProviders))


@pytest.fixture
async def system(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Running]:
    services = [
        (credit_products, await databases()),
        (matching, await databases()),
        (exporters, await databases()),
    ]
    async with running(services, broker, settings=SETTINGS) as started:
        yield started


async def projected(runtime: ServiceRuntime, model: Any, provider_id: str) -> Any:
    async with runtime.sessions() as session:
        return await session.get(model, UUID(provider_id))


async def at_version(system: Running, provider_id: str, version: int) -> dict[str, Any]:
    """Each projection's row once both hold `version`."""
    rows: dict[str, Any] = {}

    async def reached() -> bool:
        for service, model in PROJECTIONS:
            rows[service] = await projected(system[service], model, provider_id)
        return all(row is not None and row.aggregate_version == version for row in rows.values())

    await infra.eventually(reached)
    return rows


async def test_a_provider_registered_over_http_reaches_both_projections(
    system: Running,
) -> None:
    app = create_app("credit_products", [system["credit_products"]], SETTINGS)
    admin = {"Authorization": f"Bearer {issue_token(SETTINGS, role='admin', sub='admin-1')}"}
    body = {"name": "Garantie Souss", "kind": "guarantor", "country": "MA", "regions": ["oriental"]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        created = await c.post("/v1/providers", json=body, headers=admin)
        assert created.status_code == 201, created.text
        provider_id = created.json()["id"]
        rows = await at_version(system, provider_id, 1)
        assert rows["matching"].name == rows["exporters"].name == "Garantie Souss"

        revised = await c.patch(
            f"/v1/providers/{provider_id}",
            json={"name": "Garantie Souss-Massa", "regions": ["souss-massa", "oriental"]},
            headers=admin,
        )
        assert revised.status_code == 200, revised.text
        assert revised.json()["version"] == 2

    rows = await at_version(system, provider_id, 2)
    assert rows["matching"].name == rows["exporters"].name == "Garantie Souss-Massa"
    assert rows["matching"].regions == ["oriental", "souss-massa"]
    assert rows["matching"].country == "MA"
    assert rows["exporters"].kind == "guarantor"
    outbox = credit_products.tables.outbox
    assert await count(system["credit_products"], outbox, outbox.sent_at.is_not(None)) == 2


def provider_updated(provider_id: str, version: int, name: str) -> OutgoingMessage:
    snapshot = events.ProviderUpdated(id=provider_id, name=name, kind="bank", country="MA")
    envelope = Envelope.wrap(
        snapshot,
        producer="credit_products",
        aggregate_id=provider_id,
        aggregate_version=version,
        correlation_id=str(uuid4()),
    )
    return OutgoingMessage.from_envelope(envelope)


async def test_an_older_update_after_a_newer_one_changes_nothing(system: Running) -> None:
    provider_id = str(uuid4())
    transport = system["credit_products"].transport
    await transport.publish(provider_updated(provider_id, 3, "Banque du Nord, v3"))
    await at_version(system, provider_id, 3)
    await transport.publish(provider_updated(provider_id, 2, "Banque du Nord, v2"))

    async def both_consumed_the_late_event() -> bool:
        for service, _ in PROJECTIONS:
            inbox = system[service].definition.tables.inbox
            if await count(system[service], inbox) < 2:
                return False
        return True

    await infra.eventually(both_consumed_the_late_event)
    for service, model in PROJECTIONS:
        row = await projected(system[service], model, provider_id)
        assert (row.name, row.aggregate_version) == ("Banque du Nord, v3", 3), service
