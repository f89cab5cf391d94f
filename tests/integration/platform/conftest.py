"""The exporters app on a fresh PostgreSQL database and the real Redis, under a key prefix of
this test's own that is deleted afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest
from exporters.bootstrap import definition as exporters
from redis.asyncio import Redis
from support import infra
from tasdir.api import create_app
from tasdir.messaging.inproc import InProcessBus
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from unit.platform.kit import Platform


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    infra.require("Redis", "127.0.0.1", 6379)
    prefix = f"tasdir-test-{infra.RUN_ID}-{uuid4().hex[:6]}:"
    client = Redis.from_url(infra.REDIS_URL)
    yield client, prefix
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def make_platform(
    databases: Callable[[], Any], redis: tuple[Redis, str]
) -> AsyncIterator[Callable[..., Any]]:
    client, prefix = redis
    made: list[Platform] = []

    async def make(*, with_redis: bool = True, **overrides: Any) -> Platform:
        settings = Settings(environment="development", redis_prefix=prefix, **overrides)
        runtime = ServiceRuntime(
            exporters,
            database_url=await databases(),
            transport=InProcessBus(),
            settings=settings,
        )
        await runtime.migrate()
        app = create_app("exporters", [runtime], settings, redis=client if with_redis else None)
        platform = Platform(app, runtime, client if with_redis else None, settings)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        await platform.runtime.dispose()


@pytest.fixture
async def platform(make_platform: Callable[..., Any]) -> Platform:
    made: Platform = await make_platform()
    return made
