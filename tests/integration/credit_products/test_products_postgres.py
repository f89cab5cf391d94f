"""The products API tests (versions, BOLA, 403, validation, the catalogue, real offers) again,
on PostgreSQL and the real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from redis.asyncio import Redis
from support import infra
from support.infra import DatabaseFactory
from tasdir.api import create_app
from tasdir.messaging.inproc import InProcessBus
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from unit.credit_products.test_products_api import *  # noqa: F403  (the tests, again)
from unit.credit_products.test_products_api import Service
from unit.credit_products.test_real_products import (  # noqa: F401
    test_a_documented_offer_is_accepted_as_it_stands,
)


@pytest.fixture
async def service(databases: DatabaseFactory) -> AsyncIterator[Service]:
    infra.require("Redis", "127.0.0.1", 6379)
    prefix = f"tasdir-test-{infra.RUN_ID}-{uuid4().hex[:6]}:"
    settings = Settings(environment="development", rate_limit_per_minute=0, redis_prefix=prefix)
    redis = Redis.from_url(infra.REDIS_URL)
    runtime: ServiceRuntime[Any] = ServiceRuntime(
        credit_products,
        database_url=await databases(),
        transport=InProcessBus(),
        settings=settings,
    )
    await runtime.migrate()
    app = create_app("credit_products", [runtime], settings, redis=redis)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Service(client, runtime)
    await runtime.dispose()
    keys = [key async for key in redis.scan_iter(f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
