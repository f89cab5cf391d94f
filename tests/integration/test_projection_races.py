"""A projection never goes backwards, even when two consumers apply two versions at once:
on PostgreSQL, two sessions, the older event committing last."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from matching.adapters.orm import ExporterProjection
from matching.adapters.repository import ExporterProjectionRepository
from matching.bootstrap import definition as matching
from support import infra
from support.events import exporter_event
from support.infra import DatabaseFactory
from tasdir.contracts import events
from tasdir.service import ServiceRuntime


@pytest.fixture
async def runtime(databases: DatabaseFactory) -> AsyncIterator[ServiceRuntime[Any]]:
    async with infra.migrated_runtime(matching, await databases()) as runtime:
        yield runtime


async def apply(session: Any, exporter_id: str, version: int, name: str) -> bool:
    envelope = exporter_event(
        events.ExporterUpdated, exporter_id=exporter_id, version=version, name=name
    )
    return await ExporterProjectionRepository(session).apply_event(envelope, envelope.event())


async def stored(runtime: ServiceRuntime[Any], exporter_id: str) -> ExporterProjection:
    async with runtime.sessions() as session:
        row = await session.get(ExporterProjection, UUID(exporter_id))
        assert row is not None
        return row


@pytest.mark.parametrize("existing", [True, False], ids=["update", "first-insert"])
async def test_the_older_event_committing_last_changes_nothing(
    runtime: ServiceRuntime[Any], existing: bool
) -> None:
    exporter_id = str(uuid4())
    if existing:
        async with runtime.sessions() as session:
            await apply(session, exporter_id, 1, "v1")
            await session.commit()
    newer, older = runtime.sessions(), runtime.sessions()
    try:
        assert await apply(newer, exporter_id, 3, "v3")  # holds the row, not committed yet
        late = asyncio.create_task(apply(older, exporter_id, 2, "v2"))
        await asyncio.sleep(0.5)
        assert not late.done(), "the older event must wait for the row, not read around it"
        await newer.commit()
        assert await late is False
        await older.commit()
    finally:
        await newer.close()
        await older.close()
    row = await stored(runtime, exporter_id)
    assert (row.aggregate_version, row.legal_name) == (3, "v3")


async def test_the_newer_event_committing_last_wins(runtime: ServiceRuntime[Any]) -> None:
    exporter_id = str(uuid4())
    first, second = runtime.sessions(), runtime.sessions()
    try:
        assert await apply(first, exporter_id, 2, "v2")
        waiting = asyncio.create_task(apply(second, exporter_id, 3, "v3"))
        await asyncio.sleep(0.3)
        await first.commit()
        assert await waiting is True
        await second.commit()
    finally:
        await first.close()
        await second.close()
    row = await stored(runtime, exporter_id)
    assert (row.aggregate_version, row.legal_name) == (3, "v3")


async def test_many_versions_applied_concurrently_end_on_the_newest(
    runtime: ServiceRuntime[Any],
) -> None:
    exporter_id = str(uuid4())

    async def one(version: int) -> None:
        async with runtime.sessions() as session:
            await apply(session, exporter_id, version, f"v{version}")
            await session.commit()

    versions = list(range(1, 21))
    versions.reverse()  # the newest first: every later commit is older
    await asyncio.gather(*(one(v) for v in versions))
    row = await stored(runtime, exporter_id)
    assert (row.aggregate_version, row.legal_name) == (20, "v20")
