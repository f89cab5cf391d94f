"""Authentication on PostgreSQL and the real Redis: a correctly signed token with claims of
the wrong type is a 401 on every authenticated route, never a 500, and is never counted."""

from __future__ import annotations

import re
import time
from typing import Any

import jwt
import pytest
from redis.asyncio import Redis
from tasdir.routing import api_routes, needs_principal
from unit.platform.kit import Platform, is_problem

ODD = [
    {"role": "advisor", "regions": 123},
    {"role": "advisor", "regions": True},
    {"role": "advisor", "regions": 1.5},
    {"org": {"a": 1}},
    {"role": "provider", "provider_id": "not-a-uuid"},
    {"sub": "x\u0000y"},
]


def odd_token(platform: Platform, claims: dict[str, Any]) -> str:
    body = {"sub": "odd", "role": "exporter", "exp": int(time.time()) + 60, **claims}
    return jwt.encode(body, platform.settings.secret, algorithm="HS256")


@pytest.mark.parametrize("claims", ODD, ids=[str(sorted(c.items())) for c in ODD])
async def test_a_claim_of_the_wrong_type_is_a_401_on_every_route(
    platform: Platform, redis: tuple[Redis, str], claims: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {odd_token(platform, claims)}"}
    routes = [(r, path) for r, path in api_routes(platform.app.routes) if needs_principal(r)]
    assert routes
    async with platform.client() as client:
        for route, path_format in routes:
            for method in route.methods or ():
                path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path_format)
                response = await client.request(method, path, headers=headers, json={})
                problem = is_problem(response, 401)
                assert problem["type"].endswith("/invalid-token"), (method, path, problem)
    client_, prefix = redis
    assert [key async for key in client_.scan_iter(f"{prefix}ratelimit:*")] == []
