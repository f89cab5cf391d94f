"""What a client sees at the limits: 413 for a large body, 429 with Retry-After for a burst."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
from fastapi import Request
from sqlmodel import func, select
from tasdir.limits import RateLimited, RateLimiter
from unit.platform.kit import MakePlatform, Platform, exporter_body, is_problem


async def outbox_rows(platform: Platform) -> int:
    async with platform.runtime.sessions() as session:
        model = platform.runtime.definition.tables.outbox
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_a_declared_oversized_body_is_refused_before_the_handler(
    make_platform: MakePlatform,
) -> None:
    platform = await make_platform(max_body_bytes=512)
    body = exporter_body(legal_name="x" * 1000)
    async with platform.client() as client:
        response = await client.post("/v1/exporters", json=body, headers=platform.auth())
    problem = is_problem(response, 413)
    assert problem["max_body_bytes"] == 512
    assert "x-correlation-id" in response.headers
    assert await outbox_rows(platform) == 0


async def test_a_streamed_oversized_body_is_refused_and_the_handler_never_runs(
    make_platform: MakePlatform,
) -> None:
    platform = await make_platform(max_body_bytes=1024)
    calls: list[Any] = []

    @platform.app.post("/probe")
    async def probe(request: Request) -> dict[str, int]:
        calls.append(await request.body())
        return {"size": len(calls[-1])}

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"a" * 200

    async with platform.client() as client:
        # No Content-Length: the body arrives in chunks and is counted as it comes.
        response = await client.post("/probe", content=chunks())
        assert "content-length" not in response.request.headers
        is_problem(response, 413)
        # A JSON route, whose body FastAPI reads before the handler, answers 413 too.
        streamed = await client.post(
            "/v1/exporters",
            content=chunks(),
            headers={**platform.auth(), "content-type": "application/json"},
        )
        is_problem(streamed, 413)
        small = await client.post("/probe", content=b"a" * 1024)
    assert calls == [b"a" * 1024]
    assert small.json() == {"size": 1024}
    assert await outbox_rows(platform) == 0


async def test_a_body_within_the_limit_goes_through(make_platform: MakePlatform) -> None:
    platform = await make_platform(max_body_bytes=1024)
    async with platform.client() as client:
        response = await client.post("/v1/exporters", json=exporter_body(), headers=platform.auth())
    assert response.status_code == 201, response.text


async def test_a_burst_over_the_limit_gets_429_with_retry_after(
    make_platform: MakePlatform,
) -> None:
    platform = await make_platform(rate_limit_per_minute=3)
    async with platform.client() as client:
        answers = [
            (await client.get("/v1/exporters/me", headers=platform.auth("alice"))).status_code
            for _ in range(5)
        ]
        other = await client.get("/v1/exporters/me", headers=platform.auth("bob"))
        limited = await client.get("/v1/exporters/me", headers=platform.auth("alice"))
        health = [(await client.get("/healthz")).status_code for _ in range(5)]
    assert answers == [404, 404, 404, 429, 429]
    problem = is_problem(limited, 429)
    assert problem["type"].endswith("/rate-limited")
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert problem["retry_after"] == retry_after
    assert other.status_code == 404  # another principal keeps its own budget
    assert health == [200] * 5  # unauthenticated probes are not counted
    keys = [key.decode() async for key in platform.redis.scan_iter("t:ratelimit:*")]
    assert sorted(keys) == ["t:ratelimit:alice", "t:ratelimit:bob"]


async def test_a_bad_token_is_refused_before_it_is_counted(make_platform: MakePlatform) -> None:
    platform = await make_platform(rate_limit_per_minute=1)
    async with platform.client() as client:
        for _ in range(3):
            response = await client.get(
                "/v1/exporters/me", headers={"Authorization": "Bearer garbage"}
            )
            is_problem(response, 401)
    assert [key async for key in platform.redis.scan_iter("t:ratelimit:*")] == []


async def test_the_window_slides_so_no_burst_doubles_across_a_minute_boundary() -> None:
    redis = fakeredis.FakeAsyncRedis()
    now = [59.0]
    limiter = RateLimiter(redis, prefix="p:", per_minute=2, clock=lambda: now[0])
    await limiter.hit("u1")
    now[0] = 59.5
    await limiter.hit("u1")
    # A fixed window would start afresh at 60 s and let two more through at once.
    now[0] = 60.5
    with pytest.raises(RateLimited) as limited:
        await limiter.hit("u1")
    assert limited.value.status == 429
    # The oldest accepted request (59 s) leaves the window at 119 s.
    assert limited.value.headers["Retry-After"] == "59"
    now[0] = 118.9
    with pytest.raises(RateLimited):
        await limiter.hit("u1")
    now[0] = 119.1
    await limiter.hit("u1")
    # Refused requests are not counted: only the accepted ones are in the window.
    assert await redis.zcard("p:ratelimit:u1") == 2
    assert 0 < await redis.ttl("p:ratelimit:u1") <= 61


async def test_another_principal_has_its_own_window() -> None:
    redis = fakeredis.FakeAsyncRedis()
    limiter = RateLimiter(redis, prefix="p:", per_minute=1, clock=lambda: 10.0)
    await limiter.hit("u1")
    await limiter.hit("u2")
    with pytest.raises(RateLimited):
        await limiter.hit("u1")


async def test_a_redis_outage_lets_requests_through(make_platform: MakePlatform) -> None:
    class Broken:
        def pipeline(self, **_: Any) -> Any:
            raise ConnectionError("redis away")

        async def ping(self) -> bool:
            raise ConnectionError("redis away")

    platform = await make_platform(redis=Broken(), rate_limit_per_minute=1)
    async with platform.client() as client:
        answers = [
            (await client.get("/v1/exporters/me", headers=platform.auth())).status_code
            for _ in range(3)
        ]
        ready = await client.get("/readyz")
    assert answers == [404, 404, 404]
    problem = is_problem(ready, 503)
    assert problem["checks"]["redis"] is False


async def test_readyz_pings_redis(platform: Platform) -> None:
    async with platform.client() as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "exporters.database": True,
        "exporters.broker": True,
        "redis": True,
    }


async def test_rate_limit_zero_turns_the_limiter_off(make_platform: MakePlatform) -> None:
    platform = await make_platform(rate_limit_per_minute=0)
    async with platform.client() as client:
        for _ in range(5):
            response = await client.get("/v1/exporters/me", headers=platform.auth())
            assert response.status_code == 404
    assert [key async for key in platform.redis.scan_iter("t:ratelimit:*")] == []
