"""The operations tools on real RabbitMQ and PostgreSQL: republish and the DLQ tool."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from matching.service_layer.handlers import project_exporter
from sqlmodel import delete
from support import infra
from support.events import exporter_event
from support.infra import DatabaseFactory
from support.system import Running, count, running, write_exporter_events
from tasdir.contracts import Envelope, events
from tasdir.messaging import OutgoingMessage, RabbitTransport, service_queue


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


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


async def test_republish_rebuilds_a_dropped_projection(
    system: tuple[Running, dict[str, str]],
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

    forgot = cli(env, "matching", "forget-events", "--type", "exporters.exporter.#")
    assert f"forgot {len(ids)} consumed events" in forgot
    replayed = cli(env, "exporters", "republish", "--type", "exporters.exporter.#")
    assert f"republished {len(ids)} events" in replayed

    await infra.eventually(projected)
    await asyncio.sleep(0.3)
    assert await count(running_system["matching"], ExporterProjection) == len(ids)


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

    listed = [json.loads(line) for line in cli(env, "tasdir.dlq", "list", "matching").splitlines()]
    assert {item["message_id"] for item in listed} == {str(keep.event_id), str(drop.event_id)}
    assert {item["reason"] for item in listed} == {"delivery_limit"}
    shown = json.loads(cli(env, "tasdir.dlq", "show", "matching", str(keep.event_id)))
    assert shown["body"]["payload"]["legal_name"] == "keep me"

    broken["on"] = False  # the fix is deployed
    cli(env, "tasdir.dlq", "replay", "matching", str(keep.event_id))
    cli(env, "tasdir.dlq", "discard", "matching", str(drop.event_id))

    async def replayed() -> bool:
        return await count(system["matching"], ExporterProjection) == 1

    await infra.eventually(replayed)
    assert await transport.queue_depth(dlq) == 0
    assert cli(env, "tasdir.dlq", "list", "matching").strip() == ""
