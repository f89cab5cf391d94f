"""The processes of one service: `python -m <service> api|consumer|relay|migrate`.

Every process starts before its broker may be up (a reboot, a rolling deploy): the relay and the
consumer retry their first connection, and the API serves at once, connecting in the
background, with `/readyz` saying what is still missing.

The consumer process also runs the service's background jobs (`ServiceDefinition.background`),
with a Redis client of `TASDIR_REDIS_URL`, and stops them on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING

from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from fastapi import FastAPI
from pydantic import ValidationError

from tasdir.api import create_app, redis_client, serve_metrics
from tasdir.db.migrations import migrate
from tasdir.messaging.rabbit import RabbitTransport
from tasdir.observability import configure_logging, flush_logs
from tasdir.service import (
    AnyServiceDefinition,
    AnyServiceRuntime,
    ServiceRuntime,
    stop_background,
)
from tasdir.settings import Settings, SettingsError, describe_error, get_settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)

PROCESSES = ("api", "consumer", "relay", "migrate")
# On SIGTERM an API stops taking connections, lets the requests in flight finish for this long,
# then cancels those still running: a server-sent event stream never finishes by itself.
GRACEFUL_SHUTDOWN_SECONDS = 10


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def connect_with_retry(
    transport: RabbitTransport,
    *,
    patience: float | None = 60.0,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
) -> None:
    """Connect and declare the topology. A robust connection reconnects only once it has
    connected, so a process started while the broker is still booting retries here first.
    `patience=None` retries for ever (the API, which serves meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = None if patience is None else loop.time() + patience
    delay = first_delay
    while True:
        try:
            await transport.connect()
            await transport.declare_topology()
            return
        except (OSError, ConnectionError, *CONNECTION_EXCEPTIONS) as exc:
            await transport.close()
            if deadline is not None and loop.time() + delay > deadline:
                raise
            log.warning("broker unreachable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


def _runtime(
    definition: AnyServiceDefinition, settings: Settings, process: str
) -> AnyServiceRuntime:
    transport = RabbitTransport(settings.amqp_url, connection_name=f"{definition.name}-{process}")
    return ServiceRuntime(
        definition,
        database_url=settings.database_url(definition.name),
        transport=transport,
        settings=settings,
    )


async def run_relay(definition: AnyServiceDefinition, settings: Settings) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runtime = _runtime(definition, settings, "relay")
    assert isinstance(runtime.transport, RabbitTransport)
    await connect_with_retry(runtime.transport)
    log.info("%s relay started", definition.name)
    try:
        await runtime.relay().run(stop)
    finally:
        await runtime.transport.close()
        await runtime.dispose()


async def run_consumer(definition: AnyServiceDefinition, settings: Settings) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runtime = _runtime(definition, settings, "consumer")
    assert isinstance(runtime.transport, RabbitTransport)
    await connect_with_retry(runtime.transport)
    subscription = await runtime.subscribe()
    # A service without background jobs opens no Redis connection.
    redis = redis_client(settings) if definition.background else None
    jobs = runtime.start_background(redis, stop)
    log.info("%s consumer started (%d background jobs)", definition.name, len(jobs))
    try:
        await stop.wait()
    finally:
        stop.set()
        await subscription.cancel()
        await stop_background(jobs)
        if redis is not None:
            await redis.aclose()
        await runtime.transport.close()
        await runtime.dispose()


def api_app(definition: AnyServiceDefinition, settings: Settings) -> FastAPI:
    """The app of one service's API process. It writes only the outbox: the broker connection
    is for `/readyz` and to own the topology, so it is made in the background."""
    runtime = _runtime(definition, settings, "api")
    transport = runtime.transport
    assert isinstance(transport, RabbitTransport)
    redis = redis_client(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        connecting = asyncio.create_task(
            connect_with_retry(transport, patience=None), name=f"{definition.name}-api-connect"
        )
        try:
            yield
        finally:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
            await transport.close()
            await redis.aclose()
            await runtime.dispose()

    return create_app(
        f"Tasdir {definition.name}", [runtime], settings, lifespan=lifespan, redis=redis
    )


def api_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """The uvicorn server of an API process, or of the embedded system."""
    import uvicorn

    class Server(uvicorn.Server):
        """After a signal, uvicorn shuts down, then raises the signal again, which ends the
        process without `atexit`: the log lines still queued (`BackgroundLines`) are written
        first, the last ones of its shutdown included."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    flush_logs()

    # The app writes the access log itself (`tasdir.observability.AccessLog`), with the route's
    # figures as fields; uvicorn's own line would say the same a second time.
    return Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    )


async def run_api(
    definition: AnyServiceDefinition, settings: Settings, host: str, port: int
) -> None:
    server = api_server(api_app(definition, settings), host, port)
    await server.serve()


def main(definition: AnyServiceDefinition, argv: Sequence[str] | None = None) -> None:
    """`python -m <service> api|consumer|relay|migrate`."""
    parser = argparse.ArgumentParser(prog=f"python -m {definition.name}")
    parser.add_argument("process", choices=PROCESSES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="the API's port (default 8000); for a relay or consumer, where it serves /metrics",
    )
    args = parser.parse_args(argv)
    label = f"{definition.name}.{args.process}"
    configure_logging(label)
    try:
        settings = get_settings()
        if definition.check_settings is not None:
            definition.check_settings()
    except (ValidationError, SettingsError) as exc:
        print(f"{definition.name}: cannot start: {describe_error(exc)}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.process == "api":
        # Its event loop must never wait on stderr: a thread writes the log lines.
        configure_logging(label, background=True)
        if settings.metrics_port is not None:
            serve_metrics(args.host, settings.metrics_port)
        asyncio.run(run_api(definition, settings, args.host, args.port or 8000))
    elif args.process == "migrate":
        asyncio.run(migrate(definition.migrations_dir, settings.database_url(definition.name)))
    else:
        if args.port is not None:
            serve_metrics(args.host, args.port)
        runner = run_consumer if args.process == "consumer" else run_relay
        asyncio.run(runner(definition, settings))
