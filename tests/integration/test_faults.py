"""Faults lose nothing and duplicate nothing: a killed relay, cut connections, bad routes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from e2e.processes import free_port
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import ExporterProjection
from matching.bootstrap import definition as matching
from sqlmodel import col, select
from support import infra
from support.events import exporter_event
from support.infra import DatabaseFactory
from support.system import Running, count, running, write_exporter_events
from support.tokens import bearer
from tasdir.contracts import utcnow
from tasdir.db.migrations import migrate
from tasdir.messaging import OutgoingMessage, RabbitTransport, Unroutable, service_queue
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

# A short time budget, so a row that cannot be routed is set aside within the test.
SETTINGS = Settings(
    environment="development",
    relay_park_after_seconds=0.5,
    relay_retry_base_seconds=0.1,
    relay_retry_max_seconds=0.2,
)
VICTIM = Path(__file__).with_name("relay_victim.py")


@pytest.fixture
async def pair(
    rabbit: tuple[str, str], broker: RabbitTransport, databases: DatabaseFactory
) -> AsyncIterator[tuple[Running, str, str]]:
    """Exporters (no relay: each test drives its own) and matching (consuming)."""
    exporters_db = await databases()
    async with running(
        [(exporters, exporters_db), (matching, await databases())],
        broker,
        relays=False,
        settings=SETTINGS,
    ) as system:
        yield system, rabbit[1], exporters_db


async def all_projected(system: Running, n: int) -> None:
    async def done() -> bool:
        return await count(system["matching"], ExporterProjection) >= n

    await infra.eventually(done, timeout=60)
    await asyncio.sleep(0.5)  # anything still in flight would show up as an extra row
    assert await count(system["matching"], ExporterProjection) == n
    assert await count(system["matching"], matching.tables.inbox) == n


async def test_an_unroutable_publish_raises(pair: tuple[Running, str, str]) -> None:
    system, _url, _db = pair
    stray = exporter_event().model_copy(update={"type": "nobody.listens.here.v1"})
    with pytest.raises(Unroutable):
        await system["exporters"].transport.publish(OutgoingMessage.from_envelope(stray))


async def test_a_failing_outbox_row_is_set_aside_and_does_not_block_the_rows_behind(
    pair: tuple[Running, str, str],
) -> None:
    system, _url, _db = pair
    runtime = system["exporters"]
    outbox = exporters.tables.outbox
    await write_exporter_events(runtime, 1, "before")
    async with runtime.sessions() as session:
        stuck = exporters.tables.outbox(
            event_id="00000000-0000-4000-8000-000000000001",
            event_type="nobody.listens.here.v1",
            aggregate_id="x",
            aggregate_version=1,
            correlation_id="c",
            body="{}",
            created_at=utcnow(),
        )
        session.add(stuck)
        await session.commit()
    await write_exporter_events(runtime, 3, "after")

    relay = runtime.relay()
    first = await relay.relay_once()
    assert first.published == 4 and first.failed == 1 and first.parked == []
    await asyncio.sleep(0.6)  # past the budget of 0.5 s, and past its backoff
    second = await relay.relay_once()
    assert second.parked == [stuck.event_id]
    await asyncio.sleep(0.3)
    third = await relay.relay_once()
    assert third.published == third.failed == 0

    await all_projected(system, 4)
    async with runtime.sessions() as session:
        parked = (
            await session.exec(select(outbox).where(col(outbox.parked_at).is_not(None)))
        ).all()
    assert [row.event_id for row in parked] == [stuck.event_id]
    assert "Unroutable" in parked[0].last_error


async def test_a_broker_that_nacks_for_seconds_then_recovers_parks_nothing(
    rabbit: tuple[str, str], broker: RabbitTransport, databases: DatabaseFactory
) -> None:
    """Real nacks, as during a quorum leader election: matching's queue is held over a
    one-message cap with reject-publish, so the broker refuses every publish for seconds."""
    vhost, _url = rabbit
    queue = service_queue("matching").name
    # The default ten-minute budget; retries capped at 2 s so the test ends soon after.
    settings = Settings(environment="development", relay_retry_max_seconds=2)
    assert settings.relay_park_after_seconds >= 600
    async with running(
        [(exporters, await databases()), (matching, await databases())],
        broker,
        relays=False,
        consumers=False,
        settings=settings,
    ) as system:
        for n in range(2):  # unreadable fillers: the consumer dead-letters them later
            await broker.send_to_queue(queue, OutgoingMessage("filler", b"x", f"f{n}", "c"))
        infra.rabbitmqctl(
            "set_policy",
            "-p",
            vhost,
            "--apply-to",
            "queues",
            "refuse",
            f"^{queue}$",
            '{"max-length": 1, "overflow": "reject-publish"}',
        )
        runtime = system["exporters"]
        await write_exporter_events(runtime, 10, "nacked")
        relay = runtime.relay()
        stop = asyncio.Event()
        relaying = asyncio.create_task(relay.run(stop))
        outbox = exporters.tables.outbox
        try:

            async def refused() -> bool:
                return await count(runtime, outbox, col(outbox.attempts) > 1) == 10

            await infra.eventually(refused, timeout=30)  # every row refused, more than once
            await asyncio.sleep(2)
            assert await count(runtime, outbox, col(outbox.sent_at).is_not(None)) == 0
            # The broker recovers. (A quorum queue leaves its reject-publish state when it is
            # re-evaluated under a larger cap; clearing the policy alone would not do it.)
            infra.rabbitmqctl(
                "set_policy",
                "-p",
                vhost,
                "--apply-to",
                "queues",
                "refuse",
                f"^{queue}$",
                '{"max-length": 1000000, "overflow": "reject-publish"}',
            )
            system.subscriptions.append(await system["matching"].subscribe())
            await all_projected(system, 10)
        finally:
            stop.set()
            await relaying
        assert await count(runtime, outbox, col(outbox.parked_at).is_not(None)) == 0
        assert await count(runtime, outbox, col(outbox.sent_at).is_(None)) == 0


@pytest.mark.parametrize("stage", ["fetched", "published"])
async def test_a_relay_killed_mid_batch_loses_nothing_after_restart(
    pair: tuple[Running, str, str], stage: str
) -> None:
    system, amqp_url, exporters_db = pair
    ids = await write_exporter_events(system["exporters"], 50)
    env = {
        **os.environ,
        "TASDIR_AMQP_URL": amqp_url,
        "TASDIR_EXPORTERS_DATABASE_URL": exporters_db,
    }
    victim = subprocess.run(
        [sys.executable, str(VICTIM), stage], env=env, timeout=60, capture_output=True
    )
    assert victim.returncode == -9, victim.stderr.decode()[-2000:]
    outbox = exporters.tables.outbox
    unsent = await count(system["exporters"], outbox, col(outbox.sent_at).is_(None))
    assert unsent == len(ids)  # it died before marking anything sent

    relay = subprocess.Popen([sys.executable, "-m", "exporters", "relay"], env=env)
    try:
        await all_projected(system, len(ids))

        async def marked() -> bool:
            return await count(system["exporters"], outbox, col(outbox.sent_at).is_(None)) == 0

        await infra.eventually(marked)
    finally:
        relay.terminate()
        relay.wait(timeout=30)
    assert relay.returncode == 0


async def test_every_event_arrives_after_all_connections_are_cut_mid_stream(
    rabbit: tuple[str, str], pair: tuple[Running, str, str]
) -> None:
    vhost, _ = rabbit
    system, _url, _db = pair
    transport = system["exporters"].transport
    assert isinstance(transport, RabbitTransport)
    reconnects: list[object] = []
    transport.connection.reconnect_callbacks.add(lambda *args: reconnects.append(args))
    stop = asyncio.Event()
    relay_task = asyncio.create_task(system["exporters"].relay().run(stop))
    total = 300

    async def stream() -> None:
        await write_exporter_events(system["exporters"], total // 2, "a")
        # Cut every connection of the vhost (relay and consumer alike) mid-stream.
        await asyncio.to_thread(infra.close_all_connections, vhost)
        await write_exporter_events(system["exporters"], total // 2, "b")

    try:
        await stream()
        await all_projected(system, total)
    finally:
        stop.set()
        await relay_task
    assert await count(system["matching"], matching.tables.inbox) == total
    assert reconnects, "the connection was never cut: the test proved nothing"


async def test_a_relay_started_before_its_broker_connects_once_the_broker_is_up(
    databases: DatabaseFactory,
) -> None:
    """The broker is not there yet (here: its vhost); the relay waits instead of dying."""
    vhost = infra.unique_name("late")
    amqp_url = f"amqp://guest:guest@{infra.RABBIT_HOST}:5672/{vhost}"
    exporters_db = await databases()
    env = {**os.environ, "TASDIR_AMQP_URL": amqp_url, "TASDIR_EXPORTERS_DATABASE_URL": exporters_db}
    await migrate(exporters.migrations_dir, exporters_db)
    relay = subprocess.Popen([sys.executable, "-m", "exporters", "relay"], env=env)
    try:
        await asyncio.sleep(2)
        assert relay.poll() is None, "the relay gave up while the broker was away"
        infra.rabbitmqctl("add_vhost", vhost)
        infra.rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        transport = RabbitTransport(amqp_url)
        await transport.connect()
        await transport.declare_topology()
        try:
            runtime = ServiceRuntime(
                exporters, database_url=exporters_db, transport=transport, settings=SETTINGS
            )
            await write_exporter_events(runtime, 3)
            queue = service_queue("matching").name

            async def relayed() -> bool:
                return await transport.queue_depth(queue) == 3

            await infra.eventually(relayed, timeout=30)
            await runtime.dispose()
        finally:
            await transport.close()
    finally:
        relay.terminate()
        relay.wait(timeout=30)
        infra.delete_vhost(vhost)
    assert relay.returncode == 0


async def test_an_api_started_before_its_broker_serves_and_says_what_is_missing(
    databases: DatabaseFactory,
) -> None:
    """The API writes only its outbox: it serves at once, `/readyz` names the missing broker,
    and it becomes ready when the broker (here: its vhost) appears."""
    vhost = infra.unique_name("late-api")
    port = free_port()
    exporters_db = await databases()
    env = {
        **os.environ,
        "TASDIR_AMQP_URL": f"amqp://guest:guest@{infra.RABBIT_HOST}:5672/{vhost}",
        "TASDIR_EXPORTERS_DATABASE_URL": exporters_db,
        "TASDIR_REDIS_PREFIX": f"{vhost}:",
    }
    await migrate(exporters.migrations_dir, exporters_db)
    api = subprocess.Popen(
        [sys.executable, "-m", "exporters", "api", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:

            async def answering() -> httpx.Response | None:
                try:
                    return await client.get("/readyz")
                except httpx.TransportError:
                    assert api.poll() is None, "the API died while the broker was away"
                    return None

            waiting = await infra.eventually(answering, timeout=30)
            assert waiting.status_code == 503
            checks = waiting.json()["checks"]
            assert checks["exporters.broker"] is False
            assert checks["exporters.database"] is True
            # It serves meanwhile: a registration lands in the outbox.
            created = await client.post(
                "/v1/exporters",
                json={"legal_name": "Atlas", "ice": "001234567000089", "region": "oriental"},
                headers=bearer(SETTINGS, "exporter"),
            )
            assert created.status_code == 201, created.text
            infra.rabbitmqctl("add_vhost", vhost)
            infra.rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await infra.eventually(ready, timeout=30)
    finally:
        api.terminate()
        api.wait(timeout=30)
        infra.delete_vhost(vhost)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert api.returncode in (0, -signal.SIGTERM)


async def test_every_event_arrives_across_a_broker_restart(
    pair: tuple[Running, str, str],
) -> None:
    """The broker application stops and starts mid-stream; the same processes carry on."""
    system, _url, _db = pair
    stop = asyncio.Event()
    relay_task = asyncio.create_task(system["exporters"].relay().run(stop))
    total = 120
    try:
        await write_exporter_events(system["exporters"], total // 2, "before")
        await asyncio.to_thread(infra.rabbitmqctl, "stop_app")
        try:
            # Written while the broker is down: they wait in the outbox.
            await write_exporter_events(system["exporters"], total // 2, "during")
        finally:
            await asyncio.to_thread(infra.rabbitmqctl, "start_app")
            await asyncio.to_thread(infra.rabbitmqctl, "await_startup")
        await all_projected(system, total)
    finally:
        stop.set()
        await relay_task
