"""`GET /v1/notifications` in the embedded system: each principal reads its own audiences only
(an exporter its organisation's, a provider its own, an advisor its regions', an admin all),
newest first, keyset-paged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from matching.service_layer.notifications import KINDS, notify
from support.apps import serving
from support.tokens import bearer
from tasdir.contracts.base import utcnow
from tasdir.errors import PROBLEM_JSON
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from tasdir_cli.embedded import build_app

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
PROVIDER = uuid4()
OTHER_PROVIDER = uuid4()

# (audience, kind), in the order they are stored.
STORED = [
    ("org:atlas", "match_set.ready"),
    ("org:fes-cuir", "match_set.ready"),
    (f"provider:{PROVIDER}", "referral.received"),
    (f"provider:{OTHER_PROVIDER}", "referral.received"),
    ("region:souss-massa", "match_set.proposed"),
    ("region:oriental", "match_set.proposed"),
    ("org:atlas", "offer.expired"),
]


class World:
    def __init__(self, client: httpx.AsyncClient, matching: ServiceRuntime[Any]) -> None:
        self.client = client
        self.matching = matching
        self.ids: list[int] = []

    async def store(self) -> None:
        async with self.matching.uow() as uow:
            for n, (audience, kind) in enumerate(STORED):
                await notify(uow, [audience], kind, {"n": n}, cause=f"test-{n}", now=utcnow())
            await uow.commit()

    async def audiences(self, headers: dict[str, str], **params: Any) -> list[str]:
        response = await self.client.get("/v1/notifications", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["audience"] for item in response.json()["items"]]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    app = build_app(tmp_path, SETTINGS, seeders=[])
    async with serving(app) as client:
        found = World(client, app.state.system["matching"])
        await found.store()
        yield found


async def test_each_principal_reads_its_own_audiences_only(world: World) -> None:
    exporter = bearer(SETTINGS, "exporter", org="atlas")
    assert await world.audiences(exporter) == ["org:atlas", "org:atlas"]
    assert await world.audiences(bearer(SETTINGS, "exporter", org="fes-cuir")) == ["org:fes-cuir"]
    assert await world.audiences(bearer(SETTINGS, "exporter", org="nobody")) == []
    provider = bearer(SETTINGS, "provider", provider_id=PROVIDER)
    assert await world.audiences(provider) == [f"provider:{PROVIDER}"]
    assert await world.audiences(bearer(SETTINGS, "provider")) == []
    advisor = bearer(SETTINGS, "advisor", regions=["souss-massa"])
    assert await world.audiences(advisor) == ["region:souss-massa"]
    # An advisor of another region sees none of these.
    elsewhere = bearer(SETTINGS, "advisor", regions=["tanger-tetouan-al-hoceima"])
    assert await world.audiences(elsewhere) == []
    both = bearer(SETTINGS, "advisor", regions=["souss-massa", "oriental"])
    assert await world.audiences(both) == ["region:oriental", "region:souss-massa"]
    admin = bearer(SETTINGS, "admin")
    assert await world.audiences(admin) == [audience for audience, _ in reversed(STORED)]


async def test_an_item_says_what_it_is_about(world: World) -> None:
    response = await world.client.get(
        "/v1/notifications", headers=bearer(SETTINGS, "exporter", org="atlas")
    )
    newest, older = response.json()["items"]
    assert set(newest) == {"id", "kind", "message", "data", "audience", "created_at"}
    assert (newest["kind"], newest["message"]) == ("offer.expired", KINDS["offer.expired"])
    assert newest["data"] == {"n": 6}
    assert newest["id"] > older["id"]
    assert newest["created_at"].endswith(("Z", "+00:00"))


async def test_the_list_pages_newest_first_without_repeats(world: World) -> None:
    admin = bearer(SETTINGS, "admin")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/v1/notifications", headers=admin, params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(STORED)
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {}, 401),
        ({}, {"Authorization": "Bearer not-a-token"}, 401),
        ({"limit": 101}, bearer(SETTINGS, "admin"), 422),
        ({"cursor": "not-a-cursor"}, bearer(SETTINGS, "admin"), 422),
    ],
    ids=["no-token", "bad-token", "limit-too-large", "forged-cursor"],
)
async def test_a_bad_call_is_a_problem(
    world: World, params: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    response = await world.client.get("/v1/notifications", headers=headers, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
