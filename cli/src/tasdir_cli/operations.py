"""The operations on a service's event history, as the `tasdir outbox …` and `tasdir inbox …`
commands run them: a runtime built the way the service's own processes build theirs
(`tasdir.process`), on the service's database and, for a replay, on RabbitMQ; closed after.

Each function prints what it did on stdout and returns the exit code; a dependency that cannot
be used raises `OperationError`, whose message says which one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from sqlalchemy.exc import SQLAlchemyError
from tasdir import ops
from tasdir.messaging.rabbit import RabbitTransport
from tasdir.process import connect_with_retry
from tasdir.service import AnyServiceRuntime, ServiceRuntime
from tasdir.settings import Settings

from tasdir_cli.services import definition

# How long a command waits for a broker that does not answer before it gives up.
BROKER_PATIENCE_SECONDS = 15.0


class OperationError(Exception):
    """A dependency of the operation cannot be used; the message says which and why."""


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the statement and a link to its errors: the first line says enough.
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@asynccontextmanager
async def service_runtime(
    service: str,
    settings: Settings,
    *,
    broker: bool = False,
    patience: float | None = None,
) -> AsyncIterator[AnyServiceRuntime]:
    """`service` bound to its database (`settings.database_url(service)`) and to RabbitMQ; the
    broker is connected, and the topology declared, only when `broker` is true, waiting
    `patience` seconds (default `BROKER_PATIENCE_SECONDS`) for it to answer."""
    transport = RabbitTransport(settings.amqp_url, connection_name=f"{service}-tasdir-cli")
    runtime: AnyServiceRuntime = ServiceRuntime(
        definition(service),
        database_url=settings.database_url(service),
        transport=transport,
        settings=settings,
    )
    database = (
        f"the database of {service} (TASDIR_{service.upper()}_DATABASE_URL or TASDIR_POSTGRES_URL)"
    )
    try:
        if broker:
            try:
                await connect_with_retry(
                    transport,
                    patience=BROKER_PATIENCE_SECONDS if patience is None else patience,
                )
            except (OSError, ConnectionError, *CONNECTION_EXCEPTIONS) as exc:
                raise OperationError(
                    f"RabbitMQ (TASDIR_AMQP_URL) is unreachable: {_first_line(exc)}"
                ) from exc
        try:
            yield runtime
        except SQLAlchemyError as exc:
            raise OperationError(f"{database} cannot be used: {_first_line(exc)}") from exc
        except OSError as exc:
            what = f"{database} or RabbitMQ" if broker else database
            raise OperationError(f"{what} is unreachable: {_first_line(exc)}") from exc
    finally:
        await transport.close()
        await runtime.dispose()


async def list_parked(service: str, settings: Settings, *, limit: int) -> int:
    """One JSON line per parked outbox row, oldest first."""
    async with service_runtime(service, settings) as runtime:
        for event in await ops.parked(runtime, limit=limit):
            print(json.dumps(event.summary()), flush=True)
    return 0


async def retry_parked(service: str, settings: Settings, event_ids: Sequence[str] | None) -> int:
    """Put parked rows back in the relay's way: the given ones, or all with `None`. Exit code 1
    when a given event was not parked (nor sent) in this outbox."""
    async with service_runtime(service, settings) as runtime:
        wanted = list(dict.fromkeys(event_ids)) if event_ids is not None else None
        retried = await ops.retry_parked(runtime, wanted)
    print(f"{retried} parked events of {service} are back in the relay's way")
    if wanted is not None and retried < len(wanted):
        print(
            f"{len(wanted) - retried} of the {len(wanted)} given events are not parked in the "
            f"outbox of {service}",
            file=sys.stderr,
        )
        return 1
    return 0


async def republish(
    service: str, settings: Settings, *, pattern: str, to_service: str | None
) -> int:
    """Publish again `service`'s sent events whose type matches `pattern`."""
    async with service_runtime(service, settings, broker=True) as runtime:
        count = await ops.republish(runtime, pattern, to_service=to_service)
    where = f" into the queue of {to_service}" if to_service else ""
    print(f"republished {count} events of {service} matching {pattern!r}{where}")
    return 0


async def forget_events(service: str, settings: Settings, *, pattern: str) -> int:
    """Forget the events `service`'s consumer applied whose type matches `pattern`."""
    async with service_runtime(service, settings) as runtime:
        count = await ops.forget_events(runtime, pattern)
    print(f"{service} forgot {count} consumed events matching {pattern!r}")
    return 0


__all__ = [
    "BROKER_PATIENCE_SECONDS",
    "OperationError",
    "forget_events",
    "list_parked",
    "republish",
    "retry_parked",
    "service_runtime",
]
