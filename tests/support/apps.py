"""A service as the unit tests run it: migrated on an SQLite file, on the in-process bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from tasdir.messaging import InProcessBus
from tasdir.service import ServiceDefinition, ServiceRuntime
from tasdir.settings import Settings


async def sqlite_runtime(
    definition: ServiceDefinition, directory: Path, settings: Settings, *, name: str | None = None
) -> ServiceRuntime:
    """A migrated runtime of `definition`; dispose of it when done."""
    runtime = ServiceRuntime(
        definition,
        database_url=f"sqlite+aiosqlite:///{directory}/{name or definition.name}.db",
        transport=InProcessBus(),
        settings=settings,
    )
    await runtime.migrate()
    return runtime


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` with its lifespan running (the embedded system started)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield client
