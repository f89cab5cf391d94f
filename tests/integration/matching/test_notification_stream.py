"""Notifications on PostgreSQL and the real Redis, with two API replicas of matching, each with
its own engine and its own Redis client, as two processes behind a gateway would be:

- a stream opened on replica B receives a notification whose row replica A's database session
  wrote, once the dispatcher has run (once, here) against the database;
- a dispatcher that dies between its publish and the commit of its cursor publishes the same
  ids again, and the stream still sends each id once, in order;
- a notification whose transaction commits after a later one's is not skipped;
- `python -m matching consumer` runs the dispatcher beside the consumer, and stops on SIGTERM.

Each test has its own database and its own Redis key prefix, so its own channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from matching.bootstrap import definition as matching
from matching.config import get_matching_settings
from matching.service_layer.dispatch import channel, dispatch_once
from matching.service_layer.notifications import notify
from redis.asyncio import Redis
from support import infra
from support.infra import DatabaseFactory
from support.streams import EventReader, open_stream, uvicorn_serving
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.contracts.base import utcnow
from tasdir.messaging.inproc import InProcessBus
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings


class Crash(Exception):
    """The dispatcher's process dying, right after its publish reached Redis."""


@pytest.fixture(autouse=True)
def matching_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Heartbeats an hour apart: what a stream sends here, an announcement made it send.
    monkeypatch.setenv("TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS", "300")
    get_matching_settings.cache_clear()
    yield
    get_matching_settings.cache_clear()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    infra.require("Redis", "127.0.0.1", 6379)
    prefix = f"tasdir-test-{infra.RUN_ID}-{uuid4().hex[:6]}:"
    yield prefix
    client = Redis.from_url(infra.REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@dataclass
class Replica:
    """One API process of matching: its own engine and its own Redis client."""

    app: FastAPI
    runtime: ServiceRuntime[Any]
    redis: Redis


@dataclass
class Cluster:
    a: Replica
    b: Replica
    settings: Settings

    @property
    def channel(self) -> str:
        return channel(self.settings)

    async def notify(self, replica: Replica, audience: str) -> int:
        """A notification written in `replica`'s database session, as a handler writes one."""
        cause = uuid4().hex
        async with replica.runtime.uow() as uow:
            assert await notify(uow, [audience], "match_set.ready", {}, cause=cause, now=utcnow())
            await uow.commit()
            return await self.id_of(replica, audience, cause)

    async def id_of(self, replica: Replica, audience: str, cause: str) -> int:
        async with replica.runtime.uow() as uow:
            stored = await uow.notifications.after([audience], 0, 1000)
            (found,) = [n.id for n in stored if n.dedupe_key.startswith(cause)]
        assert found is not None
        return found

    async def dispatch(self, replica: Replica, redis: Redis | None = None) -> int:
        return await dispatch_once(replica.runtime, redis or replica.redis, channel=self.channel)


@pytest.fixture
async def cluster(databases: DatabaseFactory, redis_prefix: str) -> AsyncIterator[Cluster]:
    settings = Settings(
        environment="development", rate_limit_per_minute=0, redis_prefix=redis_prefix
    )
    url = await databases()
    replicas: list[Replica] = []
    for name in ("a", "b"):
        runtime = ServiceRuntime(
            matching, database_url=url, transport=InProcessBus(), settings=settings
        )
        if name == "a":
            await runtime.migrate()
        # Named, so that a test can find its connections in CLIENT LIST.
        redis = Redis.from_url(infra.REDIS_URL, client_name=f"{redis_prefix}{name}")
        app = create_app(f"matching-{name}", [runtime], settings, redis=redis)
        replicas.append(Replica(app, runtime, redis))
    yield Cluster(replicas[0], replicas[1], settings)
    for replica in replicas:
        await replica.redis.aclose()
        await replica.runtime.dispose()


@contextlib.asynccontextmanager
async def stream_on(cluster: Cluster, org: str = "atlas") -> AsyncIterator[EventReader]:
    """A ticket from replica A, and with it a stream from replica B, served by uvicorn."""
    token = bearer(cluster.settings, "exporter", org=org)
    transport = httpx.ASGITransport(app=cluster.a.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://a") as client:
        response = await client.post("/v1/notifications/stream-ticket", headers=token)
        assert response.status_code == 201, response.text
        url = response.json()["stream_url"]
    async with (
        uvicorn_serving(cluster.b.app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
        open_stream(client, url) as reader,
    ):
        yield reader


class DiesAfterPublish(Redis):
    """A real Redis client whose pipelines reach Redis, and then the process dies."""

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        async def execute_then_die(raise_on_error: bool = True) -> Any:
            await execute(raise_on_error)
            raise Crash("the dispatcher died after its publish")

        pipe.execute = execute_then_die  # type: ignore[method-assign]
        return pipe


async def published(replica: Replica) -> int:
    async with replica.runtime.uow() as uow:
        return await uow.notifications.published_up_to()


async def test_a_stream_on_one_replica_gets_what_the_other_wrote(cluster: Cluster) -> None:
    async with stream_on(cluster) as reader:
        mine = await cluster.notify(cluster.a, "org:atlas")
        await cluster.notify(cluster.a, "org:someone-else")
        # The dispatcher, once, against the database.
        assert await cluster.dispatch(cluster.a) == 2
        event = await reader.next_event()
        assert (event.id, event.event) == (str(mine), "match_set.ready")
        assert event.json()["audience"] == "org:atlas"
        later = await cluster.notify(cluster.b, "org:atlas")
        assert await cluster.dispatch(cluster.b) == 1
        assert (await reader.next_event()).id == str(later)


async def test_a_dispatcher_dying_after_its_publish_repeats_it_and_the_stream_sends_each_once(
    cluster: Cluster,
) -> None:
    async with stream_on(cluster) as reader:
        first = await cluster.notify(cluster.a, "org:atlas")
        second = await cluster.notify(cluster.a, "org:atlas")
        dying = DiesAfterPublish.from_url(infra.REDIS_URL)
        try:
            with pytest.raises(Crash):
                await cluster.dispatch(cluster.a, dying)
        finally:
            await dying.aclose()
        assert await published(cluster.a) == 0  # the cursor never moved
        # The announcements went out: the stream sends both.
        assert [(await reader.next_event()).id for _ in range(2)] == [str(first), str(second)]
        # Restarted, the dispatcher publishes them again, and moves the cursor this time.
        assert await cluster.dispatch(cluster.a) == 2
        assert await published(cluster.a) == second
        third = await cluster.notify(cluster.a, "org:atlas")
        assert await cluster.dispatch(cluster.a) == 1
        # Nothing twice: the next event is the new one.
        assert (await reader.next_event()).id == str(third)


async def test_a_notification_committed_after_a_later_one_is_not_skipped(cluster: Cluster) -> None:
    async with stream_on(cluster) as reader:
        cause = uuid4().hex
        async with cluster.a.runtime.uow() as slow:
            # Takes an id, and holds its transaction open...
            await notify(slow, ["org:atlas"], "offer.expired", {}, cause=cause, now=utcnow())
            # ... while another writer takes the next id and commits.
            early = await cluster.notify(cluster.b, "org:atlas")
            # Not settled: publishing `early` now would let streams move past the open one.
            assert await cluster.dispatch(cluster.b) == 0
            await slow.commit()
        late = await cluster.id_of(cluster.a, "org:atlas", cause)
        assert late < early
        assert await cluster.dispatch(cluster.b) == 2
        assert [(await reader.next_event()).id for _ in range(2)] == [str(late), str(early)]


async def test_a_stream_hears_again_after_redis_cuts_its_subscription(cluster: Cluster) -> None:
    admin = Redis.from_url(infra.REDIS_URL)

    async def subscribers() -> int:
        [(_, count)] = await admin.pubsub_numsub(cluster.channel)
        return int(count)

    try:
        async with stream_on(cluster) as reader:
            assert await subscribers() == 1
            name = f"{cluster.settings.redis_prefix}b"
            (cut,) = [c for c in await admin.client_list() if c["name"] == name and c["sub"] != "0"]
            await admin.client_kill_filter(_id=cut["id"])

            async def subscribed_again() -> bool:
                return await subscribers() == 1

            await infra.eventually(subscribed_again, timeout=30)
            mine = await cluster.notify(cluster.a, "org:atlas")
            assert await cluster.dispatch(cluster.a) == 1
            assert (await reader.next_event()).id == str(mine)
    finally:
        await admin.aclose()


async def test_the_consumer_process_runs_the_dispatcher_and_stops_on_sigterm(
    rabbit: tuple[str, str], databases: DatabaseFactory, redis_prefix: str
) -> None:
    url = await databases()
    settings = Settings(environment="development", redis_prefix=redis_prefix)
    runtime = ServiceRuntime(
        matching, database_url=url, transport=InProcessBus(), settings=settings
    )
    await runtime.migrate()
    listener = Redis.from_url(infra.REDIS_URL)
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel(settings))
    env = {
        **os.environ,
        "TASDIR_AMQP_URL": rabbit[1],
        "TASDIR_MATCHING_DATABASE_URL": url,
        "TASDIR_REDIS_URL": infra.REDIS_URL,
        "TASDIR_REDIS_PREFIX": redis_prefix,
        "TASDIR_MATCHING_DISPATCH_INTERVAL_SECONDS": "0.05",
    }
    consumer = subprocess.Popen([sys.executable, "-m", "matching", "consumer"], env=env)
    try:
        async with runtime.uow() as uow:
            await notify(uow, ["org:atlas"], "consent.granted", {}, cause="c", now=utcnow())
            await uow.commit()

        async def announced() -> dict[str, Any] | None:
            message: dict[str, Any] | None = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            return message

        message = await infra.eventually(announced, timeout=60)
        assert message["data"] == b'{"id":1,"audience":"org:atlas"}'
        consumer.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(consumer.wait, 60)
        assert returncode == 0
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait(timeout=30)
        await pubsub.aclose()
        await listener.aclose()
        await runtime.dispose()
