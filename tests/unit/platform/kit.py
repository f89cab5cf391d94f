"""The platform under test: an exporters app on SQLite, the in-process bus and fakeredis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from exporters.bootstrap import definition as exporters
from fastapi import FastAPI
from support.tokens import make_token
from tasdir.api import create_app
from tasdir.messaging.inproc import InProcessBus
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings


@dataclass
class Platform:
    app: FastAPI
    runtime: ServiceRuntime
    redis: Any
    settings: Settings

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")

    def auth(self, sub: str = "u1", role: str = "exporter", **claims: Any) -> dict[str, str]:
        token = make_token(self.settings, role, sub=sub, **claims)
        return {"Authorization": f"Bearer {token}"}


MakePlatform = Callable[..., Awaitable[Platform]]


@pytest.fixture
async def make_platform(tmp_path: Path) -> AsyncIterator[MakePlatform]:
    made: list[Platform] = []

    async def make(*, redis: Any = "fake", **overrides: Any) -> Platform:
        settings = Settings(environment="development", redis_prefix="t:", **overrides)
        database = tmp_path / f"exporters-{len(made)}.db"
        runtime = ServiceRuntime(
            exporters,
            database_url=f"sqlite+aiosqlite:///{database}",
            transport=InProcessBus(),
            settings=settings,
        )
        await runtime.migrate()
        client = fakeredis.FakeAsyncRedis() if redis == "fake" else redis
        app = create_app("exporters", [runtime], settings, redis=client)
        platform = Platform(app, runtime, client, settings)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        await platform.runtime.dispose()
        if platform.redis is not None and hasattr(platform.redis, "aclose"):
            await platform.redis.aclose()


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform()


def exporter_body(n: int = 1, **changes: Any) -> dict[str, Any]:
    body = {"legal_name": f"Atlas {n}", "ice": f"{n:015d}", "region": "oriental"}
    body.update(changes)
    return body


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://tasdir.dev/problems/")
    return problem
