"""The reference endpoints of credit_products, through HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from credit_products.bootstrap import definition
from support.apps import sqlite_runtime
from support.tokens import make_token
from tasdir.api import create_app
from tasdir.settings import Settings

SETTINGS = Settings(environment="development")
KINDS = [
    "regions",
    "countries",
    "blocs",
    "world-regions",
    "currencies",
    "hs-chapters",
    "instruments",
    "fx",
]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = await sqlite_runtime(definition, tmp_path, SETTINGS, name="cp")
    app = create_app("credit_products", [runtime], SETTINGS)
    token = make_token(SETTINGS, "advisor", sub="a1", regions=("oriental",))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://t",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c
    await runtime.dispose()


async def everything(client: httpx.AsyncClient, kind: str, lang: str | None = None) -> list[Any]:
    items: list[Any] = []
    cursor = None
    headers = {"Accept-Language": lang} if lang else {}
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/reference/{kind}", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize("role", ["exporter", "provider", "advisor", "admin"])
async def test_every_role_may_read_reference_data(client: httpx.AsyncClient, role: str) -> None:
    token = make_token(SETTINGS, role, sub="someone")
    response = await client.get(
        "/v1/reference/regions", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("kind", KINDS)
async def test_reference_data_needs_a_token(client: httpx.AsyncClient, kind: str) -> None:
    response = await client.get(f"/v1/reference/{kind}", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_regions_are_the_twelve_in_the_asked_language(client: httpx.AsyncClient) -> None:
    english = await everything(client, "regions")
    french = await everything(client, "regions", "fr-MA,fr;q=0.9")
    arabic = await everything(client, "regions", "ar")
    assert len(english) == 12
    assert "casablanca-settat" in {r["code"] for r in english}
    oriental = {r["code"]: r for r in french}["oriental"]
    assert oriental["name"] == oriental["names"]["fr"]
    assert {r["code"]: r for r in arabic}["oriental"]["name"] == oriental["names"]["ar"]


async def test_pages_cover_a_list_once_in_a_stable_order(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 37, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/reference/countries", params=params)).json()
        assert len(body["items"]) <= 37
        seen += [c["code"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) > 240
    assert {"MA", "NG", "FR"} <= set(seen)


async def test_blocs_carry_members_and_their_date(client: httpx.AsyncClient) -> None:
    blocs = {b["code"]: b for b in await everything(client, "blocs")}
    assert {"MA", "NG", "EG", "KE", "ZA"} <= set(blocs["afcfta"]["members"])
    assert {"FR", "ES", "DE"} <= set(blocs["eu"]["members"])
    assert "MA" not in blocs["eu"]["members"]
    assert all(b["as_of"] and b["source"] for b in blocs.values())


async def test_hs_chapters_and_instruments_in_french(client: httpx.AsyncClient) -> None:
    chapters = {c["code"]: c for c in await everything(client, "hs-chapters", "fr")}
    assert chapters["77"]["reserved"] is True
    assert chapters["08"]["name"] == chapters["08"]["names"]["fr"] != chapters["08"]["names"]["en"]
    instruments = {i["code"]: i for i in await everything(client, "instruments", "fr")}
    assert instruments["lc_confirmation"]["rules"]["code"] == "UCP 600"
    assert instruments["export_credit_guarantee"]["requestable"] is False
    assert instruments["forfaiting"]["family"] == "post_shipment"


async def test_fx_is_dated_and_marked_indicative(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/reference/fx", params={"limit": 100})).json()
    assert body["base"] == "MAD"
    assert body["indicative"] is True
    assert body["as_of"]
    rates = {r["currency"] for r in body["items"]}
    assert {"EUR", "USD", "GBP", "XOF", "EGP", "NGN"} <= rates


async def test_currencies_carry_minor_units(client: httpx.AsyncClient) -> None:
    currencies = {c["code"]: c for c in await everything(client, "currencies")}
    assert (currencies["MAD"]["minor_units"], currencies["XOF"]["minor_units"]) == (2, 0)
    assert currencies["KWD"]["minor_units"] == 3


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"cursor": "%%%"}])
async def test_bad_paging_is_a_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/v1/reference/countries", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == set(params)


async def test_the_configured_fx_table_is_the_one_served(tmp_path: Path) -> None:
    table = tmp_path / "fx.json"
    table.write_text(
        json.dumps(
            {
                "meta": {
                    "dataset": "fx_mad",
                    "version": "test-1",
                    "as_of": "2026-07-01",
                    "source": "a test",
                    "source_url": "https://example.org/fx",
                    "indicative": False,
                    "notes": [],
                },
                "base": "MAD",
                "rates": {"EUR": "12.5"},
            }
        )
    )
    settings = Settings(environment="development", fx_table=str(table))
    runtime = await sqlite_runtime(definition, tmp_path, settings, name="cp-fx")
    app = create_app("credit_products", [runtime], settings)
    headers = {"Authorization": f"Bearer {make_token(settings, 'exporter')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = (await c.get("/v1/reference/fx", headers=headers)).json()
    await runtime.dispose()
    assert body["as_of"] == "2026-07-01"
    assert body["items"] == [{"currency": "EUR", "rate": "12.5"}]


async def test_world_regions_are_served_with_their_parents_and_members(
    client: httpx.AsyncClient,
) -> None:
    regions = {r["code"]: r for r in await everything(client, "world-regions", "fr")}
    assert regions["sub-saharan-africa"]["parent"] == "africa"
    assert regions["sub-saharan-africa"]["m49"] == "202"
    assert regions["northern-africa"]["name"] == "Afrique septentrionale"
    assert {"CI", "SN", "NG"} <= set(regions["western-africa"]["members"])
    assert set(regions["western-africa"]["members"]) <= set(regions["africa"]["members"])
    assert "MA" in regions["northern-africa"]["members"]
    assert regions["africa"]["parent"] is None
