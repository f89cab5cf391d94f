"""Lists: `{"items", "next_cursor"}`, `limit` 1 to 100, an opaque keyset cursor, a stable order."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from exporters.adapters.orm import ExporterRow as Exporter
from sqlmodel import col, select
from tasdir.pagination import Page, PageParamsDep, decode_cursor, encode_cursor, paginate
from unit.platform.kit import Platform, is_problem

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def listed(platform: Platform) -> Platform:
    """45 exporters, in threes that share a `created_at`, so that the id breaks the ties."""
    async with platform.runtime.sessions() as session:
        for n in range(45):
            at = T0 + timedelta(minutes=n // 3)
            session.add(
                Exporter(
                    org=f"org-{n}",
                    legal_name=f"Exporter {n}",
                    ice=f"{n:015d}",
                    region="oriental" if n % 2 else "souss-massa",
                    created_at=at,
                    updated_at=at,
                )
            )
        await session.commit()

    @platform.app.get("/probe/exporters")
    async def probe(params: PageParamsDep, region: str | None = None, desc: bool = False) -> Any:
        query = select(Exporter)
        if region:
            query = query.where(col(Exporter.region) == region)
        async with platform.runtime.sessions() as session:
            page = await paginate(
                session,
                query,
                params,
                order_by=(col(Exporter.created_at), col(Exporter.id)),
                descending=desc,
            )
        return Page[dict[str, Any]](
            items=[{"org": e.org, "id": str(e.id)} for e in page.items],
            next_cursor=page.next_cursor,
        )

    return platform


async def walk(platform: Platform, **query: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    async with platform.client() as client:
        while True:
            params = {**query, **({"cursor": cursor} if cursor else {})}
            response = await client.get("/probe/exporters", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == {"items", "next_cursor"}
            pages.append([item["org"] for item in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                return pages


async def expected_order(platform: Platform, *, descending: bool = False) -> list[str]:
    async with platform.runtime.sessions() as session:
        order = (col(Exporter.created_at), col(Exporter.id))
        rows = await session.exec(
            select(Exporter).order_by(*(c.desc() if descending else c for c in order))
        )
        return [e.org for e in rows.all()]


async def test_pages_walk_every_item_once_in_a_stable_order(listed: Platform) -> None:
    pages = await walk(listed, limit=10)
    assert [len(page) for page in pages] == [10, 10, 10, 10, 5]
    assert [org for page in pages for org in page] == await expected_order(listed)


async def test_the_default_page_is_20_and_the_last_page_has_no_cursor(listed: Platform) -> None:
    pages = await walk(listed)
    assert [len(page) for page in pages] == [20, 20, 5]
    exact = await walk(listed, limit=45)
    assert [len(page) for page in exact] == [45]


async def test_descending_pages_and_filters_keep_the_keyset(listed: Platform) -> None:
    pages = await walk(listed, limit=7, desc=True)
    assert [org for page in pages for org in page] == await expected_order(listed, descending=True)
    odd = await walk(listed, limit=4, region="oriental")
    assert sorted(org for page in odd for org in page) == sorted(
        f"org-{n}" for n in range(45) if n % 2
    )


async def test_rows_added_ahead_of_the_cursor_are_neither_skipped_nor_repeated(
    listed: Platform,
) -> None:
    async with listed.client() as client:
        first = (await client.get("/probe/exporters", params={"limit": 10})).json()
        async with listed.runtime.sessions() as session:
            at = T0 - timedelta(days=1)  # sorts before everything already seen
            session.add(
                Exporter(
                    org="early",
                    legal_name="E",
                    ice="9" * 15,
                    region="x",
                    created_at=at,
                    updated_at=at,
                )
            )
            await session.commit()
        second = (
            await client.get(
                "/probe/exporters", params={"limit": 10, "cursor": first["next_cursor"]}
            )
        ).json()
    seen = [i["org"] for i in first["items"]] + [i["org"] for i in second["items"]]
    assert len(set(seen)) == 20 and "early" not in seen


@pytest.mark.parametrize("limit", ["101", "1000", "0", "-1", "ten"])
async def test_a_limit_out_of_range_is_a_422_naming_limit(listed: Platform, limit: str) -> None:
    async with listed.client() as client:
        response = await client.get("/probe/exporters", params={"limit": limit})
    problem = is_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["limit"]
    assert "limit" in problem["detail"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"plain text").decode(),
        encode_cursor(["2026-01-01T00:00:00+00:00"]),  # one value for a two-column key
        encode_cursor(["yesterday", "6f1c1a0e-0000-0000-0000-000000000000"]),
        encode_cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
        encode_cursor([None, None]),
    ],
)
async def test_a_malformed_cursor_is_a_422_naming_cursor(listed: Platform, cursor: str) -> None:
    async with listed.client() as client:
        response = await client.get("/probe/exporters", params={"cursor": cursor})
    problem = is_problem(response, 422)
    assert problem["type"].endswith("/invalid-cursor")
    assert [error["field"] for error in problem["errors"]] == ["cursor"]


def test_a_cursor_round_trips_typed_values() -> None:
    at = T0 + timedelta(seconds=1.5)
    exporter_id = uuid4()
    cursor = encode_cursor([at, exporter_id])
    assert "=" not in cursor
    assert decode_cursor(cursor, (col(Exporter.created_at), col(Exporter.id))) == [
        at,
        exporter_id,
    ]


async def test_paginate_needs_an_order(platform: Platform) -> None:
    from tasdir.pagination import PageParams

    async with platform.runtime.sessions() as session:
        with pytest.raises(ValueError):
            await paginate(session, select(Exporter), PageParams(), order_by=())
