"""Providers reach matching's and exporters' projections: the three services on the in-process
bus of the embedded app, and the projection handlers on their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from exporters.adapters.orm import ProviderProjection as ExportersProviders
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import ProviderProjection as MatchingProviders
from matching.bootstrap import definition as matching
from support.apps import serving
from tasdir.contracts import Envelope, events
from tasdir.messaging import InProcessBus
from tasdir.messaging.inproc import Chaos
from tasdir.service import ServiceDefinition, ServiceRuntime
from tasdir_cli.embedded import EmbeddedSystem, build_app
from unit.providers.kit import ADMIN, SETTINGS, URL, provider_body


async def projected(runtime: ServiceRuntime, model: Any, provider_id: str) -> Any:
    async with runtime.sessions() as session:
        return await session.get(model, UUID(provider_id))


async def eventually_at_version(
    runtime: ServiceRuntime, model: Any, provider_id: str, version: int, timeout: float = 10.0
) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await projected(runtime, model, provider_id)
        if row is not None and row.aggregate_version == version:
            return row
        assert asyncio.get_running_loop().time() < deadline, (
            f"{runtime.name} never reached version {version}: {row!r}"
        )
        await asyncio.sleep(0.05)


async def test_a_registered_then_revised_provider_reaches_both_projections(
    tmp_path: Path,
) -> None:
    # Shuffled and duplicated deliveries: the projections must still end at the newest version.
    app = build_app(tmp_path, SETTINGS, seeders=[], chaos=Chaos(seed=7))
    system: EmbeddedSystem = app.state.system
    async with serving(app) as client:
        created = await client.post(URL, json=provider_body(), headers=ADMIN)
        assert created.status_code == 201, created.text
        provider_id = created.json()["id"]
        revised = await client.patch(
            f"{URL}/{provider_id}",
            json={"name": "Banque Atlas Export", "kind": "eca", "regions": ["oriental"]},
            headers=ADMIN,
        )
        assert revised.status_code == 200, revised.text
        in_matching = await eventually_at_version(
            system["matching"], MatchingProviders, provider_id, 2
        )
        in_exporters = await eventually_at_version(
            system["exporters"], ExportersProviders, provider_id, 2
        )
    assert (in_matching.name, in_matching.kind, in_matching.country) == (
        "Banque Atlas Export",
        "eca",
        "MA",
    )
    assert in_matching.regions == ["oriental"]
    assert in_matching.status == "active"
    assert events.ProviderUpdated.model_validate_json(in_matching.snapshot).contact == (
        "export-desk-1@atlas.example"
    )
    assert (in_exporters.name, in_exporters.kind, in_exporters.status) == (
        "Banque Atlas Export",
        "eca",
        "active",
    )


def provider_event(
    model: type[events.ProviderSnapshot], provider_id: str, version: int, name: str
) -> Envelope:
    snapshot = model(id=provider_id, name=name, kind="guarantor", country="MA")
    return Envelope.wrap(
        snapshot,
        producer="credit_products",
        aggregate_id=provider_id,
        aggregate_version=version,
        correlation_id=str(uuid4()),
    )


async def apply(runtime: ServiceRuntime, envelope: Envelope) -> None:
    """Hand the event to the service's handler in a unit of work, as its consumer does."""
    handler = runtime.definition.handlers[envelope.type]
    async with runtime.uow() as uow:
        await handler(envelope, envelope.event(), uow)
        await uow.commit()


@asynccontextmanager
async def service(definition: ServiceDefinition, tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    runtime = ServiceRuntime(
        definition,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/{definition.name}.db",
        transport=InProcessBus(),
        settings=SETTINGS,
    )
    await runtime.migrate()
    try:
        yield runtime
    finally:
        await runtime.dispose()


async def test_an_older_event_after_a_newer_one_changes_nothing(tmp_path: Path) -> None:
    provider_id = str(uuid4())
    for definition, model in ((matching, MatchingProviders), (exporters, ExportersProviders)):
        async with service(definition, tmp_path) as runtime:
            await apply(runtime, provider_event(events.ProviderUpdated, provider_id, 2, "New"))
            await apply(runtime, provider_event(events.ProviderRegistered, provider_id, 1, "Old"))
            await apply(runtime, provider_event(events.ProviderUpdated, provider_id, 2, "Dup"))
            row = await projected(runtime, model, provider_id)
            assert (row.name, row.aggregate_version) == ("New", 2), definition.name
            await apply(runtime, provider_event(events.ProviderUpdated, provider_id, 3, "Newer"))
            row = await projected(runtime, model, provider_id)
            assert (row.name, row.aggregate_version) == ("Newer", 3), definition.name
