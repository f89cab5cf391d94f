"""The database layer on real PostgreSQL: the pool replaces connections the server closed
(there is no per-checkout pre-ping), and NOTIFY wakes a relay in another process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from exporters.bootstrap import definition as exporters
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support import infra
from support.events import exporter_event
from support.fakes import FakeTransport
from support.infra import DatabaseFactory
from tasdir.db import uow as uow_module
from tasdir.messaging import OutboxRelay
from tasdir.service import ServiceRuntime


@pytest.fixture
async def runtime(databases: DatabaseFactory) -> AsyncIterator[ServiceRuntime[Any]]:
    async with infra.migrated_runtime(exporters, await databases()) as runtime:
        yield runtime


async def terminate_backends(runtime: ServiceRuntime[Any]) -> None:
    """The server ends every session on the runtime's database (as a restart would), and the
    test waits until they are gone."""
    database = make_url(runtime.database_url).database
    admin = await asyncpg.connect(infra.PG_ADMIN_DSN)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )

        async def all_gone() -> bool:
            found = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
            )
            return int(found) == 0

        await infra.eventually(all_gone)
    finally:
        await admin.close()


async def test_connections_the_server_closed_are_replaced_at_checkout(
    runtime: ServiceRuntime[Any],
) -> None:
    async def use_three_connections() -> None:
        async def one() -> None:
            async with runtime.sessions() as session:
                connection = await session.connection()
                await connection.execute(text("SELECT pg_sleep(0.05)"))

        await asyncio.gather(one(), one(), one())

    await use_three_connections()  # the pool now holds three idle connections
    await terminate_backends(runtime)
    await use_three_connections()  # no statement fails on a dead connection


@contextlib.asynccontextmanager
async def relay_woken_only_by_notify(
    runtime: ServiceRuntime[Any], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeTransport]:
    """A running relay that only NOTIFY can wake: no in-process signal, an hour between
    polls."""
    monkeypatch.setattr(uow_module, "outbox_committed", lambda _key: None)
    transport = FakeTransport()
    relay = OutboxRelay(runtime.sessions, exporters.tables.outbox, transport, poll_interval=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        yield transport
    finally:
        stop.set()
        await running


async def write_and_see_published(
    runtime: ServiceRuntime[Any], transport: FakeTransport, expected: int
) -> None:
    envelope = exporter_event(name=f"n{expected}")
    async with runtime.uow() as uow:
        uow.outbox.add(envelope.event(), aggregate_id=envelope.aggregate_id, aggregate_version=1)
        await uow.commit()

    async def published() -> bool:
        return len(transport.published) == expected

    await infra.eventually(published, timeout=20)


async def test_a_commit_in_another_process_wakes_the_relay_through_notify(
    runtime: ServiceRuntime[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with relay_woken_only_by_notify(runtime, monkeypatch) as transport:
        for written in range(1, 4):
            await write_and_see_published(runtime, transport, written)


async def test_the_relay_listens_again_after_the_database_ended_its_connection(
    runtime: ServiceRuntime[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with relay_woken_only_by_notify(runtime, monkeypatch) as transport:
        await write_and_see_published(runtime, transport, 1)
        await terminate_backends(runtime)  # the relay's LISTEN connection and the pool's
        await write_and_see_published(runtime, transport, 2)
