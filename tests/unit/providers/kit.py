"""credit_products under test: its app on SQLite, the in-process bus and fakeredis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from fastapi import FastAPI
from sqlmodel import col, select
from support.apps import sqlite_runtime
from support.tokens import make_token
from tasdir.api import create_app
from tasdir.contracts import Envelope
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", redis_prefix="t:")
URL = "/v1/providers"


@dataclass
class CreditProducts:
    app: FastAPI
    runtime: ServiceRuntime

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")

    async def events(self) -> list[Envelope]:
        """Every event in the outbox, oldest first."""
        outbox = self.runtime.definition.tables.outbox
        async with self.runtime.sessions() as session:
            rows = (await session.exec(select(outbox).order_by(col(outbox.id)))).all()
        return [Envelope.model_validate_json(row.body) for row in rows]


def auth(role: str = "admin", sub: str | None = None, **claims: Any) -> dict[str, str]:
    token = make_token(SETTINGS, role, sub=sub or f"{role}-1", **claims)
    return {"Authorization": f"Bearer {token}"}


ADMIN = auth("admin")


def provider_body(n: int = 1, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Banque Atlas {n}",
        "kind": "bank",
        "country": "MA",
        "regions": ["souss-massa", "casablanca-settat"],
        "contact": f"export-desk-{n}@atlas.example",
    }
    body.update(changes)
    return body


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[CreditProducts]:
    runtime = await sqlite_runtime(credit_products, tmp_path, SETTINGS, name="credit_products")
    redis = fakeredis.FakeAsyncRedis()
    app = create_app("credit_products", [runtime], SETTINGS, redis=redis)
    yield CreditProducts(app, runtime)
    await runtime.dispose()
    await redis.aclose()


@pytest.fixture
async def client(service: CreditProducts) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client() as c:
        yield c


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def fields_named(problem: dict[str, Any]) -> set[str]:
    """The fields a 422 names (an item of a list, `regions.1`, names `regions`)."""
    return {error["field"].split(".")[0] for error in problem.get("errors", [])}
