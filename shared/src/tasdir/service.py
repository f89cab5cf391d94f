"""The service model: what a service is (`ServiceDefinition`) and a service bound to its
database and a transport (`ServiceRuntime`).

A service declares its definition in its `bootstrap.py`. The same definition runs as separate
processes (`tasdir.process`) or, with the others, in one process (the `tasdir` command-line
tool's embedded mode). This module knows neither: it imports no entrypoint, so the HTTP app and
the process entrypoints can both build on it without a cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tasdir.db.engine import create_engine, session_factory
from tasdir.db.migrations import migrate
from tasdir.db.tables import MessagingTables
from tasdir.db.uow import UnitOfWork
from tasdir.messaging.consumer import EventConsumer, EventHandler
from tasdir.messaging.relay import OutboxRelay, RetryPolicy
from tasdir.messaging.topology import service_queue
from tasdir.messaging.transport import Subscription, Transport
from tasdir.metrics import MeteredTransport, consumer_outcomes, outbox_gauges
from tasdir.settings import Settings

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)


@dataclass(frozen=True)
class ServiceDefinition(Generic[U]):
    """A service as its `bootstrap.py` wires it: tables, unit of work, handlers and routes."""

    name: str
    metadata: MetaData
    tables: MessagingTables
    migrations_dir: Path
    uow_class: type[U]
    handlers: Mapping[str, EventHandler[U]] = field(default_factory=dict)
    routers: Sequence[APIRouter] = ()
    # Reads and checks the service's own settings, so that a process refuses to start on a bad
    # value (raising `SettingsError`) rather than failing its first request.
    check_settings: Callable[[], object] | None = None


class ServiceRuntime(Generic[U]):
    """One service bound to its database and a transport."""

    def __init__(
        self,
        definition: ServiceDefinition[U],
        *,
        database_url: str,
        transport: Transport,
        settings: Settings,
    ) -> None:
        self.definition = definition
        self.name = definition.name
        self.database_url = database_url
        self.transport = transport
        self.settings = settings
        self.engine: AsyncEngine = create_engine(database_url)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)

    @property
    def tables(self) -> MessagingTables:
        return self.definition.tables

    def uow(self) -> U:
        return self.definition.uow_class(self.sessions, self.definition.tables, self.name)

    async def migrate(self) -> None:
        await migrate(self.definition.migrations_dir, self.database_url)

    def relay(self) -> OutboxRelay:
        # The relay publishes through a transport that counts each event by type and outcome.
        settings = self.settings
        return OutboxRelay(
            self.sessions,
            self.definition.tables.outbox,
            MeteredTransport(self.transport, self.name),
            service=self.name,
            batch_size=settings.relay_batch_size,
            retry=RetryPolicy(
                base=settings.relay_retry_base_seconds,
                ceiling=settings.relay_retry_max_seconds,
                park_after=settings.relay_park_after_seconds,
            ),
            poll_interval=settings.relay_poll_seconds,
            on_counts=outbox_gauges(self.name),
        )

    def consumer(self) -> EventConsumer[U]:
        return EventConsumer(
            self.name,
            self.uow,
            self.definition.handlers,
            on_outcome=consumer_outcomes(self.name),
            delivery_limit=service_queue(self.name).delivery_limit,
        )

    async def subscribe(self) -> Subscription:
        queue = service_queue(self.name).name
        return await self.consumer().subscribe(
            self.transport, queue, prefetch=self.settings.consumer_prefetch
        )

    async def database_ready(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("database of %s unreachable", self.name, exc_info=True)
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


# A program that holds several services holds several unit-of-work types: these name that.
AnyServiceDefinition = ServiceDefinition[Any]
AnyServiceRuntime = ServiceRuntime[Any]

__all__ = ["AnyServiceDefinition", "AnyServiceRuntime", "ServiceDefinition", "ServiceRuntime"]
