"""Builds services the way their processes do, on whatever transport and databases a test has."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import func, select
from tasdir.contracts import events
from tasdir.messaging.transport import Subscription, Transport
from tasdir.service import ServiceDefinition, ServiceRuntime
from tasdir.settings import Settings

from support.events import exporter_event


@dataclass
class Running:
    runtimes: dict[str, ServiceRuntime]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

    def __getitem__(self, name: str) -> ServiceRuntime:
        return self.runtimes[name]


@contextlib.asynccontextmanager
async def running(
    services: Sequence[tuple[ServiceDefinition, str]],
    transport: Transport,
    *,
    relays: bool = True,
    consumers: bool = True,
    settings: Settings | None = None,
) -> AsyncIterator[Running]:
    """Migrate each service's database, then run its relay and consumer as tasks."""
    settings = settings or Settings(environment="development")
    system = Running({})
    for definition, url in services:
        runtime = ServiceRuntime(
            definition, database_url=url, transport=transport, settings=settings
        )
        await runtime.migrate()
        system.runtimes[definition.name] = runtime
    try:
        for runtime in system.runtimes.values():
            if relays:
                system.tasks.append(asyncio.create_task(runtime.relay().run(system.stop)))
            if consumers:
                system.subscriptions.append(await runtime.subscribe())
        yield system
    finally:
        system.stop.set()
        for subscription in system.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.cancel()
        await asyncio.gather(*system.tasks, return_exceptions=True)
        for runtime in system.runtimes.values():
            await runtime.dispose()


async def count(runtime: ServiceRuntime, model: Any, *where: Any) -> int:
    async with runtime.sessions() as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return int((await session.exec(query)).one())


async def write_exporter_events(runtime, n: int, name: str = "e") -> list[str]:  # type: ignore[no-untyped-def]
    """Commit `n` registration events in the exporters outbox, one transaction each."""
    ids = []
    for i in range(n):
        envelope = exporter_event(events.ExporterRegistered, name=f"{name}{i}")
        async with runtime.uow() as uow:
            uow.outbox.add(
                envelope.event(),
                aggregate_id=envelope.aggregate_id,
                aggregate_version=1,
            )
            await uow.commit()
        ids.append(envelope.aggregate_id)
    return ids
