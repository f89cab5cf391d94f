"""Matching's background jobs on SQLite and fakeredis: the dispatcher publishes each stored
notification once, in order, in bounded batches, and moves its cursor; the scheduler expires
what is due, commits, and does nothing the second time; both run as jobs until stopped; and the
settings that pace them are checked at start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import fakeredis
import pytest
from matching.adapters.orm import ConsentProjection
from matching.bootstrap import definition as matching
from matching.config import MatchingSettings, check_matching_settings, get_matching_settings
from matching.service_layer import scheduler
from matching.service_layer.dispatch import channel, dispatch_once, dispatcher
from matching.service_layer.notifications import notify, provider_audience
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from support.apps import sqlite_runtime
from support.infra import eventually
from tasdir.contracts.base import utcnow
from tasdir.service import JobContext, ServiceRuntime
from tasdir.settings import Settings, SettingsError

SETTINGS = Settings(environment="development", redis_prefix="jobs:")
CHANNEL = channel(SETTINGS)


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_matching_settings.cache_clear()
    yield
    get_matching_settings.cache_clear()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime[Any]]:
    made = await sqlite_runtime(matching, tmp_path, SETTINGS)
    yield made
    await made.dispose()


@pytest.fixture
async def redis() -> AsyncIterator[fakeredis.FakeAsyncRedis]:
    client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


@pytest.fixture
async def heard(redis: fakeredis.FakeAsyncRedis) -> AsyncIterator[PubSub]:
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    yield pubsub
    await pubsub.aclose()


async def store(runtime: ServiceRuntime[Any], *audiences: str) -> None:
    async with runtime.uow() as uow:
        for audience in audiences:
            cause = uuid4().hex
            await notify(uow, [audience], "match_set.ready", {}, cause=cause, now=utcnow())
        await uow.commit()


async def announcements(pubsub: PubSub, count: int) -> list[dict[str, Any]]:
    """The next `count` announcements on the channel."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = await pubsub.get_message(timeout=30)
        assert message is not None, f"only {len(found)} of {count} announcements came"
        if message["type"] == "message":
            found.append(json.loads(message["data"]))
    return found


async def published(runtime: ServiceRuntime[Any]) -> int:
    async with runtime.uow() as uow:
        return await uow.notifications.published_up_to()


async def test_the_dispatcher_announces_each_notification_once_in_order(
    runtime: ServiceRuntime[Any], redis: fakeredis.FakeAsyncRedis, heard: PubSub
) -> None:
    assert await dispatch_once(runtime, redis, channel=CHANNEL) == 0
    await store(runtime, "org:atlas", "region:oriental", "org:atlas")
    assert await dispatch_once(runtime, redis, channel=CHANNEL, batch=2) == 2
    assert await published(runtime) == 2
    assert await dispatch_once(runtime, redis, channel=CHANNEL, batch=2) == 1
    assert await dispatch_once(runtime, redis, channel=CHANNEL, batch=2) == 0
    assert await published(runtime) == 3
    assert await announcements(heard, 3) == [
        {"id": 1, "audience": "org:atlas"},
        {"id": 2, "audience": "region:oriental"},
        {"id": 3, "audience": "org:atlas"},
    ]


async def test_a_failed_publish_leaves_the_cursor_where_it_was(
    runtime: ServiceRuntime[Any], heard: PubSub, redis: fakeredis.FakeAsyncRedis
) -> None:
    await store(runtime, "org:atlas")
    down = fakeredis.FakeAsyncRedis(connected=False)
    with pytest.raises(RedisConnectionError):
        await dispatch_once(runtime, down, channel=CHANNEL)
    assert await published(runtime) == 0
    assert await dispatch_once(runtime, redis, channel=CHANNEL) == 1
    assert await announcements(heard, 1) == [{"id": 1, "audience": "org:atlas"}]


async def test_the_dispatcher_job_runs_until_stopped(
    runtime: ServiceRuntime[Any],
    redis: fakeredis.FakeAsyncRedis,
    heard: PubSub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASDIR_MATCHING_DISPATCH_INTERVAL_SECONDS", "0.01")
    context = JobContext(runtime=runtime, redis=redis, stop=asyncio.Event())
    job = asyncio.create_task(dispatcher(context))
    await store(runtime, "org:atlas")
    assert await announcements(heard, 1) == [{"id": 1, "audience": "org:atlas"}]
    context.stop.set()
    await job


async def test_without_redis_the_dispatcher_only_waits_for_stop(
    runtime: ServiceRuntime[Any], caplog: pytest.LogCaptureFixture
) -> None:
    context = JobContext(runtime=runtime, redis=None, stop=asyncio.Event())
    job = asyncio.create_task(dispatcher(context))
    await asyncio.sleep(0)
    assert not job.done()
    context.stop.set()
    await job
    assert any("no Redis client" in r.getMessage() for r in caplog.records)


async def lapsed_consent(runtime: ServiceRuntime[Any], provider_id: Any) -> None:
    """A granted consent whose time is up (as the exporters' events would have projected it)."""
    past = datetime.now(UTC) - timedelta(days=1)
    async with runtime.uow() as uow:
        uow.session.add(
            ConsentProjection(
                id=uuid4(),
                exporter_id=uuid4(),
                provider_id=provider_id,
                status="granted",
                expires_at=past,
                snapshot="{}",
                aggregate_version=1,
                updated_at=past,
            )
        )
        await uow.commit()


async def test_the_scheduler_expires_what_is_due_commits_and_is_idempotent(
    runtime: ServiceRuntime[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="matching.service_layer.scheduler")
    provider_id = uuid4()
    await lapsed_consent(runtime, provider_id)
    now = utcnow()
    assert await scheduler.run_once(runtime, now) == {"offers": 0, "consents": 1}
    assert any("expired 1 consents, 0 offers" in r.getMessage() for r in caplog.records)
    async with runtime.uow() as uow:
        (expired,) = await uow.notifications.after([provider_audience(provider_id)], 0, 10)
        assert expired.kind == "consent.expired"
    assert await scheduler.run_once(runtime, now) == {"offers": 0, "consents": 0}


async def test_the_scheduler_job_runs_until_stopped(
    runtime: ServiceRuntime[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASDIR_MATCHING_SCHEDULER_INTERVAL_SECONDS", "0.01")
    provider_id = uuid4()
    context = JobContext(runtime=runtime, redis=None, stop=asyncio.Event())
    job = asyncio.create_task(scheduler.scheduler(context))
    await lapsed_consent(runtime, provider_id)

    async def told() -> bool:
        async with runtime.uow() as uow:
            found = await uow.notifications.after([provider_audience(provider_id)], 0, 10)
            return len(found) == 1

    await eventually(told, timeout=30)
    context.stop.set()
    await job


def test_the_pacing_defaults() -> None:
    found = MatchingSettings()
    assert found.stream_heartbeat_seconds == 15
    assert found.stream_ticket_ttl_seconds == 60
    assert found.dispatch_interval_seconds == 0.5
    assert found.scheduler_interval_seconds == 30


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS", "0"),
        ("TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS", "often"),
        ("TASDIR_MATCHING_STREAM_TICKET_TTL_SECONDS", "0"),
        ("TASDIR_MATCHING_STREAM_TICKET_TTL_SECONDS", "1.5"),
        ("TASDIR_MATCHING_DISPATCH_INTERVAL_SECONDS", "-1"),
        ("TASDIR_MATCHING_SCHEDULER_INTERVAL_SECONDS", "0"),
    ],
)
def test_a_bad_pace_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        check_matching_settings()
