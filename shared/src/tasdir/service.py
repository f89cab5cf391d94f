"""The service model: what a service is (`ServiceDefinition`) and a service bound to its
database and a transport (`ServiceRuntime`).

A service declares its definition in its `bootstrap.py`. The same definition runs as separate
processes (`tasdir.process`) or, with the others, in one process (the `tasdir` command-line
tool's embedded mode). This module knows neither: it imports no entrypoint, so the HTTP app and
the process entrypoints can both build on it without a cycle.

A service may also declare background jobs (`ServiceDefinition.background`): async callables
that take a `JobContext` and run until its `stop` event is set. The consumer process runs them
beside the consumer, and the embedded mode beside everything else
(`ServiceRuntime.start_background`). A job that raises is logged and started again after a
pause that doubles up to a ceiling; it never stops the process. `repeat` turns one pass of work
(a tick) into such a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from redis.asyncio import Redis
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

#: How long a job that failed waits before it runs again, at first and at most (seconds).
JOB_FIRST_BACKOFF = 1.0
JOB_MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class JobContext:
    """What a background job is given: its service's runtime, a Redis client (None where
    there is none) and the event that tells it to stop."""

    runtime: ServiceRuntime[Any]
    redis: Redis | None
    stop: asyncio.Event

    async def pause(self, seconds: float) -> bool:
        """Wait `seconds`, or less if `stop` is set meanwhile; whether the job should stop."""
        if not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=max(seconds, 0.0))
        return self.stop.is_set()


#: A background job: `async def job(context: JobContext) -> None`, returning once
#: `context.stop` is set.
BackgroundJob = Callable[[JobContext], Awaitable[None]]


def job_name(job: object) -> str:
    return str(getattr(job, "__qualname__", None) or getattr(job, "__name__", None) or job)


def repeat(
    tick: Callable[[JobContext], Awaitable[object]],
    interval: float | Callable[[], float],
    *,
    name: str | None = None,
    max_backoff: float = JOB_MAX_BACKOFF,
) -> BackgroundJob:
    """A job that runs `tick` every `interval` seconds (a number, or a function read when the
    job starts) until stop. A tick that raises is logged; the next one waits twice as long as
    the last wait, up to `max_backoff`, and the pace returns to `interval` after a success."""
    label = name or job_name(tick)

    async def job(context: JobContext) -> None:
        every = interval() if callable(interval) else interval
        wait = every
        while not context.stop.is_set():
            try:
                await tick(context)
            except Exception:
                wait = min(max(wait, every) * 2, max(max_backoff, every))
                log.exception(
                    "background job %s of %s failed; next run in %.1fs",
                    label,
                    context.runtime.name,
                    wait,
                )
            else:
                wait = every
            if await context.pause(wait):
                return

    job.__name__ = job.__qualname__ = label
    return job


async def supervise(
    job: BackgroundJob,
    context: JobContext,
    *,
    first_backoff: float = JOB_FIRST_BACKOFF,
    max_backoff: float = JOB_MAX_BACKOFF,
) -> None:
    """Run `job` until `context.stop` is set. If it raises, or returns before stop, it is
    logged and run again after a pause (doubling from `first_backoff` up to `max_backoff`;
    back to `first_backoff` after a run that lasted longer than `max_backoff`)."""
    loop = asyncio.get_running_loop()
    label = job_name(job)
    backoff = first_backoff
    while not context.stop.is_set():
        started = loop.time()
        try:
            await job(context)
        except Exception:
            log.exception(
                "background job %s of %s stopped with an error; restarting in %.1fs",
                label,
                context.runtime.name,
                backoff,
            )
        else:
            if context.stop.is_set():
                return
            log.error(
                "background job %s of %s returned before it was told to stop; restarting in %.1fs",
                label,
                context.runtime.name,
                backoff,
            )
        if loop.time() - started > max_backoff:
            backoff = first_backoff
        if await context.pause(backoff):
            return
        backoff = min(backoff * 2, max_backoff)


async def stop_background(tasks: Sequence[asyncio.Task[None]], *, grace: float = 10.0) -> None:
    """Wait for the tasks of `start_background` (whose `stop` is set) to return; cancel those
    still running after `grace` seconds. Never raises."""
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        log.warning(
            "background job %s did not stop within %.0fs; cancelled", task.get_name(), grace
        )
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            log.error("a background job stopped with an error", exc_info=outcome)


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
    # Jobs that run beside the consumer (`tasdir.process`) and in the embedded mode, until
    # stopped: a dispatcher, a scheduler. See `JobContext` and `repeat`.
    background: Sequence[BackgroundJob] = ()


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

    def start_background(
        self, redis: Redis | None, stop: asyncio.Event
    ) -> list[asyncio.Task[None]]:
        """Start the definition's background jobs, each supervised, until `stop` is set; stop
        them with `stop.set()` and `stop_background(tasks)`."""
        context = JobContext(runtime=self, redis=redis, stop=stop)
        return [
            asyncio.create_task(supervise(job, context), name=f"{self.name}-{job_name(job)}")
            for job in self.definition.background
        ]

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

__all__ = [
    "AnyServiceDefinition",
    "AnyServiceRuntime",
    "BackgroundJob",
    "JobContext",
    "ServiceDefinition",
    "ServiceRuntime",
    "repeat",
    "stop_background",
    "supervise",
]
