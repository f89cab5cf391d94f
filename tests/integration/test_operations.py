"""The operations commands of the `tasdir` tool, run as processes, on real RabbitMQ and
PostgreSQL: `tasdir inbox forget` with `tasdir outbox republish` to rebuild a projection,
`tasdir outbox parked|retry` for the rows the relay set aside, and `tasdir dlq`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from matching.service_layer.handlers import project_exporter
from sqlmodel import delete, select
from support import infra
from support.cli import outbox_row, run_tasdir, tasdir
from support.events import exporter_event
from support.infra import DatabaseFactory
from support.system import Running, count, running, write_exporter_events
from tasdir.contracts import Envelope, events
from tasdir.messaging import OutgoingMessage, RabbitTransport, service_queue
from tasdir.service import ServiceRuntime


@pytest.fixture
async def system(
    rabbit: tuple[str, str], broker: RabbitTransport, databases: DatabaseFactory
) -> AsyncIterator[tuple[Running, dict[str, str]]]:
    urls = {"exporters": await databases(), "matching": await databases()}
    env = {
        "TASDIR_AMQP_URL": rabbit[1],
        "TASDIR_EXPORTERS_DATABASE_URL": urls["exporters"],
        "TASDIR_MATCHING_DATABASE_URL": urls["matching"],
    }
    async with running(
        [(exporters, urls["exporters"]), (matching, urls["matching"])], broker
    ) as started:
        yield started, env


@pytest.mark.parametrize("to_service", [None, "matching"])
async def test_republish_rebuilds_a_dropped_projection(
    system: tuple[Running, dict[str, str]], to_service: str | None
) -> None:
    running_system, env = system
    ids = await write_exporter_events(running_system["exporters"], 5)

    async def projected() -> bool:
        return await count(running_system["matching"], ExporterProjection) == len(ids)

    await infra.eventually(projected)
    async with running_system["matching"].sessions() as session:
        await session.exec(delete(ExporterProjection))  # type: ignore[call-overload]
        await session.commit()
    assert await count(running_system["matching"], ExporterProjection) == 0

    forgot = tasdir("inbox", "forget", "matching", "--type", "exporters.exporter.#", env=env)
    assert f"matching forgot {len(ids)} consumed events" in forgot
    republish = ["outbox", "republish", "exporters", "--type", "exporters.exporter.#"]
    if to_service:
        republish += ["--to-service", to_service]
    replayed = tasdir(*republish, env=env)
    assert f"republished {len(ids)} events of exporters" in replayed

    await infra.eventually(projected)
    await asyncio.sleep(0.3)
    assert await count(running_system["matching"], ExporterProjection) == len(ids)


@pytest.fixture
async def exporters_outbox(
    databases: DatabaseFactory,
) -> AsyncIterator[tuple[ServiceRuntime[Any], dict[str, str]]]:
    """The exporters service on a fresh PostgreSQL database, migrated, with no relay."""
    url = await databases()
    async with infra.migrated_runtime(exporters, url) as runtime:
        yield runtime, {"TASDIR_EXPORTERS_DATABASE_URL": url}


async def outbox_rows(runtime: ServiceRuntime[Any]) -> dict[str, Any]:
    model = runtime.tables.outbox
    async with runtime.sessions() as session:
        return {row.event_id: row for row in (await session.exec(select(model))).all()}


async def test_parked_rows_are_listed_and_retried_on_postgresql(
    exporters_outbox: tuple[ServiceRuntime[Any], dict[str, str]],
) -> None:
    runtime, env = exporters_outbox
    first, second, sent = (exporter_event(events.ExporterRegistered) for _ in range(3))
    model = runtime.tables.outbox
    async with runtime.sessions() as session:
        session.add(outbox_row(model, first, parked=True, attempts=12, last_error="nack"))
        session.add(outbox_row(model, sent, sent=True))
        session.add(outbox_row(model, second, parked=True))
        await session.commit()

    printed = tasdir("outbox", "parked", "exporters", env=env)
    listed = [json.loads(line) for line in printed.splitlines()]
    assert [item["event_id"] for item in listed] == [str(first.event_id), str(second.event_id)]
    assert (listed[0]["attempts"], listed[0]["last_error"]) == (12, "nack")
    assert listed[0]["type"] == events.ExporterRegistered.event_type

    retried = tasdir("outbox", "retry", "exporters", str(first.event_id), env=env)
    assert "1 parked events of exporters are back in the relay's way" in retried
    rows = await outbox_rows(runtime)
    back = rows[str(first.event_id)]
    assert back.parked_at is None and back.sent_at is None
    assert (back.attempts, back.first_failed_at, back.next_attempt_at) == (0, None, None)
    assert rows[str(second.event_id)].parked_at is not None

    not_parked = run_tasdir("outbox", "retry", "exporters", str(sent.event_id), env=env)
    assert not_parked.returncode == 1
    assert "not parked in the outbox of exporters" in not_parked.stderr

    assert "1 parked events" in tasdir("outbox", "retry", "exporters", "--all", env=env)
    assert all(row.parked_at is None for row in (await outbox_rows(runtime)).values())
    assert tasdir("outbox", "parked", "exporters", env=env) == ""


async def test_a_retried_row_is_published_by_the_running_relay(
    system: tuple[Running, dict[str, str]],
) -> None:
    running_system, env = system
    exporters_runtime = running_system["exporters"]
    envelope = exporter_event(events.ExporterRegistered, name="parked once")
    async with exporters_runtime.sessions() as session:
        session.add(outbox_row(exporters_runtime.tables.outbox, envelope, parked=True))
        await session.commit()

    await asyncio.sleep(1.0)  # several relay polls: a parked row stays where it is
    assert (await outbox_rows(exporters_runtime))[str(envelope.event_id)].sent_at is None
    listed = tasdir("outbox", "parked", "exporters", env=env)
    assert str(envelope.event_id) in listed

    tasdir("outbox", "retry", "exporters", str(envelope.event_id), env=env)

    async def projected() -> bool:
        return await count(running_system["matching"], ExporterProjection) == 1

    await infra.eventually(projected)
    assert (await outbox_rows(exporters_runtime))[str(envelope.event_id)].sent_at is not None
    assert tasdir("outbox", "parked", "exporters", env=env) == ""


broken = {"on": True}


async def fails_while_broken(envelope: Envelope, event: Any, uow: Any) -> None:
    if broken["on"]:
        raise RuntimeError("a bug, fixed later")
    await project_exporter(envelope, event, uow)


@pytest.fixture
async def failing_matching(
    rabbit: tuple[str, str], broker: RabbitTransport, databases: DatabaseFactory
) -> AsyncIterator[tuple[Running, dict[str, str]]]:
    broken["on"] = True
    definition = dataclasses.replace(
        matching, handlers={events.ExporterUpdated.event_type: fails_while_broken}
    )
    async with running([(definition, await databases())], broker, relays=False) as started:
        yield started, {"TASDIR_AMQP_URL": rabbit[1]}


async def test_the_dlq_tool_lists_shows_replays_and_discards(
    failing_matching: tuple[Running, dict[str, str]],
) -> None:
    system, env = failing_matching
    transport = system["matching"].transport
    assert isinstance(transport, RabbitTransport)
    keep, drop = exporter_event(name="keep me"), exporter_event(name="drop me")
    for envelope in (keep, drop):
        await transport.publish(OutgoingMessage.from_envelope(envelope))
    dlq = service_queue("matching").dlq_name

    async def both_dead() -> bool:
        return await transport.queue_depth(dlq) == 2

    await infra.eventually(both_dead, timeout=60)

    listed = [json.loads(line) for line in tasdir("dlq", "list", "matching", env=env).splitlines()]
    assert {item["message_id"] for item in listed} == {str(keep.event_id), str(drop.event_id)}
    assert {item["reason"] for item in listed} == {"delivery_limit"}
    shown = json.loads(tasdir("dlq", "show", "matching", str(keep.event_id), env=env))
    assert shown["body"]["payload"]["legal_name"] == "keep me"

    broken["on"] = False  # the fix is deployed
    tasdir("dlq", "replay", "matching", str(keep.event_id), env=env)
    tasdir("dlq", "discard", "matching", str(drop.event_id), env=env)

    async def replayed() -> bool:
        return await count(system["matching"], ExporterProjection) == 1

    await infra.eventually(replayed)
    assert await transport.queue_depth(dlq) == 0
    assert tasdir("dlq", "list", "matching", env=env).strip() == ""
