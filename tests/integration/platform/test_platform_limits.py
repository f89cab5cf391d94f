"""The limits on real Redis and PostgreSQL: rate limits, idempotency, pages, readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from exporters.adapters.orm import ExporterRow as Exporter
from exporters.service_layer import services
from redis.asyncio import Redis
from sqlmodel import col, func, select
from tasdir.idempotency import REPLAYED_HEADER
from tasdir.pagination import PageParams, paginate
from unit.platform.kit import Platform, exporter_body, is_problem

URL = "/v1/exporters"


async def counts(platform: Platform) -> tuple[int, int, int]:
    tables = platform.runtime.definition.tables
    found = []
    async with platform.runtime.sessions() as session:
        for model in (Exporter, tables.outbox, tables.idempotency):
            found.append((await session.exec(select(func.count()).select_from(model))).one())
    return found[0], found[1], found[2]


def keyed(platform: Platform, key: str, sub: str = "u1") -> dict[str, str]:
    return {**platform.auth(sub), "Idempotency-Key": key}


async def test_a_burst_over_the_limit_gets_429_on_real_redis(
    make_platform: Callable[..., Any], redis: tuple[Redis, str]
) -> None:
    platform: Platform = await make_platform(rate_limit_per_minute=5)
    async with platform.client() as client:
        burst = await asyncio.gather(
            *(client.get(f"{URL}/me", headers=platform.auth("burst")) for _ in range(8))
        )
    statuses = sorted(response.status_code for response in burst)
    assert statuses == [404] * 5 + [429] * 3  # atomic counting: exactly five get through
    limited = next(r for r in burst if r.status_code == 429)
    is_problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    client_, prefix = redis
    key = f"{prefix}ratelimit:burst"
    assert await client_.zcard(key) == 5  # the window holds the accepted requests only
    assert 0 < await client_.ttl(key) <= 61


async def test_idempotent_registration_on_postgresql(platform: Platform) -> None:
    async with platform.client() as client:
        first = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        again = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        other = await client.post(
            URL, json=exporter_body(legal_name="Other"), headers=keyed(platform, "k-1")
        )
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers[REPLAYED_HEADER] == "true"
    assert [e["field"] for e in is_problem(other, 422)["errors"]] == ["Idempotency-Key"]
    assert await counts(platform) == (1, 1, 1)


async def test_a_concurrent_duplicate_gets_409_from_the_redis_lock(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, redis: tuple[Redis, str]
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    real = services.register_exporter

    async def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(services, "register_exporter", slow)
    async with platform.client() as client:
        first = asyncio.create_task(
            client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        )
        await asyncio.wait_for(started.wait(), 10)
        twin = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        release.set()
        original = await first
    assert is_problem(twin, 409)["type"].endswith("/idempotency-in-flight")
    assert original.status_code == 201
    assert await counts(platform) == (1, 1, 1)
    client_, prefix = redis
    assert [key async for key in client_.scan_iter(f"{prefix}idempotency:*")] == []


async def test_a_duplicate_that_slips_past_the_lock_gets_the_stored_answer(
    make_platform: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No Redis, so no lock: both requests run the use case at once, and PostgreSQL's unique
    # constraints decide. The loser answers with the winner's stored response.
    platform: Platform = await make_platform(with_redis=False)
    arrived = 0
    both = asyncio.Event()
    real = services.register_exporter

    async def together(*args: Any, **kwargs: Any) -> Any:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)
        return await real(*args, **kwargs)

    monkeypatch.setattr(services, "register_exporter", together)
    async with platform.client() as client:
        one, two = await asyncio.gather(
            client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1")),
            client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1")),
        )
    assert (one.status_code, two.status_code) == (201, 201), (one.text, two.text)
    assert one.json() == two.json()
    assert sorted(REPLAYED_HEADER.lower() in r.headers for r in (one, two)) == [False, True]
    assert await counts(platform) == (1, 1, 1)


async def test_pages_on_postgresql_keep_a_stable_order(platform: Platform) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    async with platform.runtime.sessions() as session:
        for n in range(25):
            at = t0 + timedelta(seconds=n // 4)  # ties on created_at, broken by the id
            session.add(
                Exporter(
                    org=f"o{n}",
                    legal_name="E",
                    ice=f"{n:015d}",
                    region="r",
                    created_at=at,
                    updated_at=at,
                )
            )
        await session.commit()
    order = (col(Exporter.created_at), col(Exporter.id))
    seen: list[str] = []
    cursor: str | None = None
    async with platform.runtime.sessions() as session:
        expected = [e.org for e in (await session.exec(select(Exporter).order_by(*order))).all()]
        while True:
            page = await paginate(session, select(Exporter), PageParams(6, cursor), order_by=order)
            seen.extend(e.org for e in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == expected


async def test_readyz_checks_the_real_redis(platform: Platform) -> None:
    async with platform.client() as client:
        response = await client.get("/readyz")
        metrics = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["redis"] is True
    # An API process's scrape is its own registry; the outbox gauges come from the relay.
    assert "tasdir_http_request_duration_seconds" in metrics.text
