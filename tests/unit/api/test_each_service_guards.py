"""Auth and limits on each service's own routes: 401, 403, 422, 413, 429 and idempotency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import jwt
import pytest
from credit_products.bootstrap import definition as credit_products
from exporters.bootstrap import definition as exporters
from matching.bootstrap import definition as matching
from support.apps import sqlite_runtime
from support.tokens import make_token
from tasdir.api import create_app
from tasdir.auth import Role
from tasdir.service import ServiceDefinition
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", rate_limit_per_minute=5, max_body_bytes=4096)


@dataclass(frozen=True)
class Route:
    definition: ServiceDefinition
    method: str
    path: str
    role: Role
    forbidden: Role
    ok: int
    body: dict[str, Any] | None = None
    query: dict[str, Any] = field(default_factory=dict)
    invalid: tuple[dict[str, Any], str] = ({}, "")


ROUTES = [
    Route(
        exporters,
        "POST",
        "/v1/exporters",
        role="exporter",
        forbidden="advisor",
        ok=201,
        body={"legal_name": "Atlas Agrumes", "ice": "001234567000089", "region": "oriental"},
        invalid=({"body": {"legal_name": "A", "ice": "12", "region": "oriental"}}, "ice"),
    ),
    Route(
        credit_products,
        "POST",
        "/v1/providers",
        role="admin",
        forbidden="exporter",
        ok=201,
        body={"name": "Banque du Détroit", "kind": "bank", "country": "MA"},
        invalid=({"body": {"name": "B", "kind": "casino", "country": "MA"}}, "kind"),
    ),
    Route(
        matching,
        "GET",
        "/v1/match-sets",
        role="advisor",
        forbidden="exporter",
        ok=200,
        invalid=({"query": {"status": "lost"}}, "status"),
    ),
]


@dataclass
class Service:
    client: httpx.AsyncClient
    route: Route

    async def call(
        self,
        token: str | None,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        payload = self.route.body if body is None else body
        return await self.client.request(
            self.route.method,
            self.route.path,
            params=query if query is not None else self.route.query,
            json=payload if content is None and self.route.method == "POST" else None,
            content=content,
            headers=all_headers,
        )

    def token(self, role: Role | None = None, sub: str | None = None, **claims: Any) -> str:
        role = role or self.route.role
        return make_token(SETTINGS, role, sub=sub or f"{role}-sub", **claims)


@pytest.fixture(params=ROUTES, ids=lambda r: r.definition.name)
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    route: Route = request.param
    runtime = await sqlite_runtime(route.definition, tmp_path, SETTINGS)
    app = create_app(route.definition.name, [runtime], SETTINGS, redis=fakeredis.FakeAsyncRedis())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield Service(c, route)
    await runtime.dispose()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


async def test_the_right_role_gets_through(service: Service) -> None:
    response = await service.call(service.token(regions=("oriental",)))
    assert response.status_code == service.route.ok, response.text


@pytest.mark.parametrize(
    "make_token",
    [
        lambda: "garbage",
        lambda: jwt.encode(
            {"sub": "u", "role": "admin", "exp": int(time.time()) - 10},
            SETTINGS.secret,
            algorithm="HS256",
        ),
        lambda: jwt.encode(
            {"sub": "u", "role": "admin", "exp": int(time.time()) + 600},
            "not-the-secret-but-long-enough-0123456789",
            algorithm="HS256",
        ),
        lambda: None,
    ],
    ids=["garbage", "expired", "wrongly-signed", "missing"],
)
async def test_a_bad_token_is_a_401(service: Service, make_token: Callable[[], str | None]) -> None:
    assert_problem(await service.call(make_token()), 401)


async def test_a_role_that_may_never_use_the_route_is_a_403(service: Service) -> None:
    assert_problem(await service.call(service.token(service.route.forbidden)), 403)


async def test_malformed_input_is_a_422_naming_the_field(service: Service) -> None:
    given, field_name = service.route.invalid
    response = await service.call(service.token(), body=given.get("body"), query=given.get("query"))
    problem = assert_problem(response, 422)
    assert field_name in {error["field"] for error in problem["errors"]}


async def test_an_oversized_body_is_a_413(service: Service) -> None:
    response = await service.call(
        service.token(),
        content=b"{" + b" " * 8192 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413)


async def test_a_burst_over_the_limit_is_a_429_with_retry_after(service: Service) -> None:
    token = service.token(regions=("oriental",))
    burst = [(await service.call(token)).status_code for _ in range(SETTINGS.rate_limit_per_minute)]
    assert 429 not in burst  # later writes may be 409 duplicates: they still count
    limited = await service.call(token)
    assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    other = await service.call(service.token(sub="another-principal", regions=("oriental",)))
    assert other.status_code != 429  # the limit is per principal


@pytest.mark.parametrize(
    "service",
    [r for r in ROUTES if r.method == "POST"],
    indirect=True,
    ids=lambda r: r.definition.name,
)
async def test_an_idempotent_retry_replays_and_another_body_is_a_422(service: Service) -> None:
    token = service.token()
    key = {"Idempotency-Key": "retry-1"}
    first = await service.call(token, headers=key)
    again = await service.call(token, headers=key)
    assert first.status_code == again.status_code == service.route.ok
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    body = service.route.body or {}
    other = {**body, "name" if "name" in body else "legal_name": "Another name"}
    assert_problem(await service.call(token, body=other, headers=key), 422)
