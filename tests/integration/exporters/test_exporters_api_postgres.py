"""The exporters API tests (validation, BOLA, requests, consents) again, on PostgreSQL and the
real Redis: the same assertions, the production databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from exporters.bootstrap import definition as exporters
from redis.asyncio import Redis
from support import infra
from support.infra import DatabaseFactory
from tasdir.api import create_app
from tasdir.messaging.inproc import InProcessBus
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from unit.exporters.test_exporters_api import *  # noqa: F403  (the tests, collected again here)
from unit.exporters.test_exporters_api import Service


@pytest.fixture
async def service(databases: DatabaseFactory) -> AsyncIterator[Service]:
    infra.require("Redis", "127.0.0.1", 6379)
    prefix = f"tasdir-test-{infra.RUN_ID}-{uuid4().hex[:6]}:"
    settings = Settings(environment="development", rate_limit_per_minute=0, redis_prefix=prefix)
    redis = Redis.from_url(infra.REDIS_URL)
    runtime: ServiceRuntime[Any] = ServiceRuntime(
        exporters, database_url=await databases(), transport=InProcessBus(), settings=settings
    )
    await runtime.migrate()
    app = create_app("exporters", [runtime], settings, redis=redis)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Service(client, runtime)
    await runtime.dispose()
    keys = [key async for key in redis.scan_iter(f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
