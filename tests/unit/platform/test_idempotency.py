"""`Idempotency-Key` on POST /v1/exporters: replay, reuse with another body, a concurrent twin."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from exporters.adapters.orm import ExporterRow as Exporter
from exporters.service_layer import services
from sqlmodel import func, select
from tasdir.idempotency import REPLAYED_HEADER, canonical_body, request_hash
from unit.platform.kit import MakePlatform, Platform, exporter_body, is_problem


async def count(platform: Platform, model: Any) -> int:
    async with platform.runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def counts(platform: Platform) -> tuple[int, int, int]:
    tables = platform.runtime.definition.tables
    return (
        await count(platform, Exporter),
        await count(platform, tables.outbox),
        await count(platform, tables.idempotency),
    )


URL = "/v1/exporters"


def keyed(platform: Platform, key: str, sub: str = "u1") -> dict[str, str]:
    return {**platform.auth(sub), "Idempotency-Key": key}


async def test_the_same_key_and_body_replay_the_stored_response(platform: Platform) -> None:
    async with platform.client() as client:
        first = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        assert first.status_code == 201, first.text
        assert REPLAYED_HEADER.lower() not in first.headers
        # The same JSON, written differently, is the same request.
        again = await client.post(
            URL,
            content=json.dumps(exporter_body(), indent=2, sort_keys=True),
            headers={**keyed(platform, "k-1"), "content-type": "application/json"},
        )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers["content-type"] == "application/json"
    assert await counts(platform) == (1, 1, 1)  # nothing new: no exporter, no event


async def test_the_same_key_with_another_body_is_a_422(platform: Platform) -> None:
    async with platform.client() as client:
        first = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        assert first.status_code == 201
        other = await client.post(
            URL,
            json=exporter_body(legal_name="Another name"),
            headers=keyed(platform, "k-1"),
        )
    problem = is_problem(other, 422)
    assert problem["type"].endswith("/idempotency-key-reused")
    assert [error["field"] for error in problem["errors"]] == ["Idempotency-Key"]
    assert await counts(platform) == (1, 1, 1)


async def test_a_concurrent_duplicate_gets_a_409(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
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
        await asyncio.wait_for(started.wait(), 5)
        twin = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
        release.set()
        original = await first
        after = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k-1"))
    problem = is_problem(twin, 409)
    assert problem["type"].endswith("/idempotency-in-flight")
    assert original.status_code == 201
    # Once the first has committed, the lock is gone and the key replays.
    assert after.status_code == 201 and after.headers[REPLAYED_HEADER] == "true"
    assert after.json() == original.json()
    assert await counts(platform) == (1, 1, 1)
    assert [key async for key in platform.redis.scan_iter("t:idempotency:*")] == []


async def test_keys_belong_to_their_principal(platform: Platform) -> None:
    async with platform.client() as client:
        alice = await client.post(
            URL, json=exporter_body(1), headers=keyed(platform, "same", "alice")
        )
        bob = await client.post(URL, json=exporter_body(2), headers=keyed(platform, "same", "bob"))
    assert (alice.status_code, bob.status_code) == (201, 201)
    assert REPLAYED_HEADER.lower() not in bob.headers
    assert await counts(platform) == (2, 2, 2)


async def test_without_a_key_nothing_is_stored(platform: Platform) -> None:
    async with platform.client() as client:
        response = await client.post(URL, json=exporter_body(), headers=platform.auth())
    assert response.status_code == 201
    assert await counts(platform) == (1, 1, 0)


async def test_a_failed_request_stores_nothing_and_may_be_retried(platform: Platform) -> None:
    async with platform.client() as client:
        taken = await client.post(URL, json=exporter_body(7), headers=platform.auth("a"))
        assert taken.status_code == 201
        # Same ICE as `a`'s exporter: a conflict, and no stored response.
        clash = exporter_body(7, legal_name="Clash")
        refused = await client.post(URL, json=clash, headers=keyed(platform, "k", "b"))
        is_problem(refused, 409)
        assert await counts(platform) == (1, 1, 0)
        retried = await client.post(URL, json=clash, headers=keyed(platform, "k", "b"))
    assert is_problem(retried, 409)["type"].endswith("/duplicate-ice")


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 256, "é".encode()])
async def test_a_malformed_key_is_a_422(platform: Platform, key: bytes) -> None:
    async with platform.client() as client:
        response = await client.post(
            URL,
            json=exporter_body(),
            headers=[*platform.auth().items(), ("Idempotency-Key", key)],
        )
    problem = is_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["Idempotency-Key"]
    assert await counts(platform) == (0, 0, 0)


async def test_the_role_is_checked_before_the_key(platform: Platform) -> None:
    async with platform.client() as client:
        response = await client.post(
            URL,
            json=exporter_body(),
            headers={**platform.auth(role="advisor"), "Idempotency-Key": "k"},
        )
    is_problem(response, 403)
    assert [key async for key in platform.redis.scan_iter("t:idempotency:*")] == []


async def test_without_redis_the_stored_row_still_replays(make_platform: MakePlatform) -> None:
    platform = await make_platform(redis=None)
    async with platform.client() as client:
        first = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k"))
        again = await client.post(URL, json=exporter_body(), headers=keyed(platform, "k"))
    assert first.status_code == 201 and again.headers[REPLAYED_HEADER] == "true"
    assert await counts(platform) == (1, 1, 1)


def test_the_request_hash_covers_method_path_and_canonical_body() -> None:
    body = b'{"b": 1, "a": [1, 2]}'
    assert canonical_body(body) == b'{"a":[1,2],"b":1}'
    assert canonical_body(b"not json") == b"not json"
    same = request_hash("POST", "/v1/exporters", body)
    assert same == request_hash("post", "/v1/exporters", b'{"a":[1,2],"b":1}')
    assert same != request_hash("POST", "/v1/financing-requests", body)
    assert same != request_hash("POST", "/v1/exporters", b'{"a":[2,1],"b":1}')
