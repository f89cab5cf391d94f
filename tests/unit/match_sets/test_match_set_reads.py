"""The advisors' queue and a request's match set: who may see which."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from matching.adapters.orm import MatchSet
from matching.bootstrap import definition
from support.apps import sqlite_runtime
from support.tokens import make_token
from tasdir.api import create_app
from tasdir.auth import Role
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development")
START = datetime(2026, 11, 1, 9, tzinfo=UTC)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    runtime = await sqlite_runtime(definition, tmp_path, SETTINGS, name="matching")
    yield runtime
    await runtime.dispose()


@pytest.fixture
async def client(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app("matching", [runtime], SETTINGS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def add(runtime: ServiceRuntime, *, region: str, org: str, status: str, minute: int) -> UUID:
    request_id = uuid4()
    async with runtime.sessions() as session:
        session.add(
            MatchSet(
                request_id=request_id,
                exporter_id=uuid4(),
                org=org,
                region=region,
                status=status,
                version=1,
                computed_at=START + timedelta(minutes=minute),
                catalogue_seq=7,
                fx_as_of=date(2025, 1, 31),
                matches=[
                    {
                        "product_id": str(uuid4()),
                        "product_version": 1,
                        "provider_id": str(uuid4()),
                        "tier": "eligible",
                        "score": 81.5,
                    }
                ],
                excluded=[{"product_id": str(uuid4()), "reasons": ["amount_range"]}] * 60,
                excluded_total=60,
            )
        )
        await session.commit()
    return request_id


def auth(role: Role, **claims: Any) -> dict[str, str]:
    token = make_token(SETTINGS, role, sub=f"{role}-1", **claims)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def seeded(runtime: ServiceRuntime) -> dict[str, UUID]:
    return {
        "oriental": await add(runtime, region="oriental", org="o1", status="proposed", minute=1),
        "souss": await add(runtime, region="souss-massa", org="o2", status="in_review", minute=2),
        "casa": await add(
            runtime, region="casablanca-settat", org="o3", status="proposed", minute=3
        ),
    }


async def queue(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await client.get("/v1/match-sets", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["request_id"] for item in response.json()["items"]]


async def test_an_advisor_sees_only_its_own_regions(
    client: httpx.AsyncClient, seeded: dict[str, UUID]
) -> None:
    advisor = auth("advisor", regions=("oriental", "souss-massa"))
    assert await queue(client, advisor) == [str(seeded["oriental"]), str(seeded["souss"])]
    assert await queue(client, advisor, region="souss-massa") == [str(seeded["souss"])]
    assert await queue(client, advisor, region="casablanca-settat") == []
    assert await queue(client, advisor, status="proposed") == [str(seeded["oriental"])]


async def test_an_admin_sees_every_region_and_pages_oldest_first(
    client: httpx.AsyncClient, seeded: dict[str, UUID]
) -> None:
    admin = auth("admin")
    first = await client.get("/v1/match-sets", params={"limit": 2}, headers=admin)
    body = first.json()
    assert [i["request_id"] for i in body["items"]] == [
        str(seeded["oriental"]),
        str(seeded["souss"]),
    ]
    rest = await queue(client, admin, limit=2, cursor=body["next_cursor"])
    assert rest == [str(seeded["casa"])]
    assert await queue(client, admin, region="oriental") == [str(seeded["oriental"])]


@pytest.mark.parametrize("role", ["exporter", "provider"])
async def test_the_queue_is_for_advisors_and_admins(
    client: httpx.AsyncClient, seeded: dict[str, UUID], role: Role
) -> None:
    response = await client.get("/v1/match-sets", headers=auth(role))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_bad_status_filter_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/match-sets", params={"status": "lost"}, headers=auth("admin"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


async def test_a_match_set_is_shown_to_its_exporter_its_advisor_and_admins(
    client: httpx.AsyncClient, seeded: dict[str, UUID]
) -> None:
    path = f"/v1/match-sets/{seeded['oriental']}"
    for headers in (
        auth("exporter", org="o1"),
        auth("advisor", regions=("oriental",)),
        auth("admin"),
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["region"] == "oriental"
        assert body["excluded_total"] == 60
        assert len(body["excluded"]) == 50  # the nearest misses; the rest are paged later


@pytest.mark.parametrize(
    "headers",
    [auth("exporter", org="someone-else"), auth("advisor", regions=("souss-massa",))],
    ids=["another-exporter", "another-region"],
)
async def test_someone_elses_match_set_answers_404(
    client: httpx.AsyncClient, seeded: dict[str, UUID], headers: dict[str, str]
) -> None:
    response = await client.get(f"/v1/match-sets/{seeded['oriental']}", headers=headers)
    assert response.status_code == 404


async def test_an_unknown_request_answers_404_and_a_provider_403(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get(f"/v1/match-sets/{uuid4()}", headers=auth("admin"))).status_code == 404
    provider = auth("provider")
    assert (await client.get(f"/v1/match-sets/{uuid4()}", headers=provider)).status_code == 403
