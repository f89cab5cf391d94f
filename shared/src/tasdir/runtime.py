"""How a service runs: its definition, its runtime (database, transport), its processes.

A service declares a `ServiceDefinition` in its `bootstrap.py`. The same definition runs as
separate processes (`python -m <service> api|consumer|relay`) or, with the others, inside the
one process of the embedded mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from fastapi import APIRouter
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tasdir.db.engine import create_engine, session_factory
from tasdir.db.migrations import migrate
from tasdir.db.tables import MessagingTables
from tasdir.db.uow import UnitOfWork
from tasdir.messaging.consumer import EventConsumer, EventHandler
from tasdir.messaging.rabbit import RabbitTransport
from tasdir.messaging.relay import OutboxRelay
from tasdir.messaging.topology import service_queue
from tasdir.messaging.transport import Subscription, Transport
from tasdir.metrics import MeteredTransport, consumer_outcomes
from tasdir.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    metadata: MetaData
    tables: MessagingTables
    migrations_dir: Path
    uow_class: type[UnitOfWork]
    handlers: Mapping[str, EventHandler[Any]] = field(default_factory=dict)
    routers: Sequence[APIRouter] = ()


class ServiceRuntime:
    """One service bound to its database and a transport."""

    def __init__(
        self,
        definition: ServiceDefinition,
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

    def uow(self) -> Any:
        return self.definition.uow_class(self.sessions, self.definition.tables, self.name)

    async def migrate(self) -> None:
        await migrate(self.definition.migrations_dir, self.database_url)

    def relay(self) -> OutboxRelay:
        # The relay publishes through a transport that counts each event by type and outcome.
        return OutboxRelay(
            self.sessions,
            self.definition.tables.outbox,
            cast(Transport, MeteredTransport(self.transport, self.name)),
            batch_size=self.settings.relay_batch_size,
            max_attempts=self.settings.relay_max_attempts,
        )

    def consumer(self) -> EventConsumer[Any]:
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


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def _connected(
    definition: ServiceDefinition, settings: Settings, *, patience: float = 60.0
) -> ServiceRuntime:
    """Connect and declare the topology. A robust connection reconnects only once it has
    connected, so a process started while the broker is still booting retries here first."""
    transport = RabbitTransport(settings.amqp_url, connection_name=f"{definition.name}")
    deadline = asyncio.get_running_loop().time() + patience
    delay = 0.5
    while True:
        try:
            await transport.connect()
            await transport.declare_topology()
            break
        except (OSError, ConnectionError, *CONNECTION_EXCEPTIONS) as exc:
            await transport.close()
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning("broker unreachable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    return ServiceRuntime(
        definition,
        database_url=settings.database_url(definition.name),
        transport=transport,
        settings=settings,
    )


async def run_relay(definition: ServiceDefinition, settings: Settings) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runtime = await _connected(definition, settings)
    log.info("%s relay started", definition.name)
    try:
        await runtime.relay().run(stop)
    finally:
        await runtime.transport.close()
        await runtime.dispose()


async def run_consumer(definition: ServiceDefinition, settings: Settings) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runtime = await _connected(definition, settings)
    subscription = await runtime.subscribe()
    log.info("%s consumer started", definition.name)
    try:
        await stop.wait()
    finally:
        await subscription.cancel()
        await runtime.transport.close()
        await runtime.dispose()


async def run_api(definition: ServiceDefinition, settings: Settings, host: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from tasdir.api import create_app, redis_client

    transport = RabbitTransport(settings.amqp_url, connection_name=f"{definition.name}-api")
    redis = redis_client(settings)
    runtime = ServiceRuntime(
        definition,
        database_url=settings.database_url(definition.name),
        transport=transport,
        settings=settings,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        # The API only writes the outbox; it connects for /readyz and to own the topology.
        await transport.connect()
        await transport.declare_topology()
        try:
            yield
        finally:
            await transport.close()
            await redis.aclose()
            await runtime.dispose()

    app = create_app(
        f"Tasdir {definition.name}", [runtime], settings, lifespan=lifespan, redis=redis
    )
    # The access log line runs in the request's context, so it carries the correlation id.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=True)
    )
    await server.serve()


async def _operate(definition: ServiceDefinition, settings: Settings, args: Any) -> None:
    from tasdir import ops

    runtime = await _connected(definition, settings)
    try:
        if args.process == "republish":
            count = await ops.republish(runtime, args.type, to_service=args.to_service)
            print(f"republished {count} events of {definition.name} matching {args.type!r}")
        else:
            count = await ops.forget_events(runtime, args.type)
            print(f"{definition.name} forgot {count} consumed events matching {args.type!r}")
    finally:
        await runtime.transport.close()
        await runtime.dispose()


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> None:
    """`python -m <service> api|consumer|relay|migrate|republish|forget-events`."""
    import argparse

    from tasdir.observability import configure_logging
    from tasdir.settings import get_settings

    parser = argparse.ArgumentParser(prog=definition.name)
    parser.add_argument(
        "process",
        choices=["api", "consumer", "relay", "migrate", "republish", "forget-events"],
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="the API's port (default 8000); for a relay or consumer, where it serves /metrics",
    )
    parser.add_argument(
        "--type", default="#", help="event types, in topic syntax (republish, forget-events)"
    )
    parser.add_argument(
        "--to-service", default=None, help="republish into this service's queue only"
    )
    args = parser.parse_args(argv)
    configure_logging(f"{definition.name}.{args.process}")
    settings = get_settings()
    if args.process in ("consumer", "relay") and args.port is not None:
        from prometheus_client import start_http_server

        try:
            start_http_server(args.port, addr=args.host)
        except OSError as exc:  # metrics are worth a warning, never a dead relay
            log.warning("cannot serve /metrics on %s:%s: %s", args.host, args.port, exc)
    if args.process == "api":
        asyncio.run(run_api(definition, settings, args.host, args.port or 8000))
    elif args.process == "consumer":
        asyncio.run(run_consumer(definition, settings))
    elif args.process == "relay":
        asyncio.run(run_relay(definition, settings))
    elif args.process == "migrate":
        asyncio.run(migrate(definition.migrations_dir, settings.database_url(definition.name)))
    else:
        asyncio.run(_operate(definition, settings, args))
