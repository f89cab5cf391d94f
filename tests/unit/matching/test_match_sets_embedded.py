"""Match sets in the embedded system (SQLite, the in-process bus): the hand-worked catalogue,
reasons in English and French, re-matching on a product and on a profile, the frozen set of an
approved request, and the excluded products paged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from matching.adapters.orm import MatchSet, ProductProjection
from sqlmodel import select
from support import handworked
from support.apps import serving
from support.handworked import Catalogue, ok
from support.infra import eventually
from support.system import count
from support.tokens import bearer
from tasdir.contracts import Envelope
from tasdir.pagination import encode_cursor
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from tasdir_cli.embedded import EmbeddedSystem, build_app

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)


async def _at_least(runtime: ServiceRuntime[Any], n: int) -> bool:
    return await count(runtime, ProductProjection) >= n


class World:
    def __init__(self, client: httpx.AsyncClient, system: EmbeddedSystem) -> None:
        self.client = client
        self.matching: ServiceRuntime[Any] = system.runtimes["matching"]

    async def match_set_events(self) -> list[Envelope]:
        outbox = self.matching.tables.outbox
        async with self.matching.sessions() as session:
            rows = (await session.exec(select(outbox).order_by(outbox.id))).all()  # type: ignore[arg-type]
        return [Envelope.model_validate_json(row.body) for row in rows]

    async def stored(self, request_id: str) -> MatchSet:
        async with self.matching.sessions() as session:
            found = await session.get(MatchSet, UUID(request_id))
        assert found is not None
        return found


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    app = build_app(tmp_path, SETTINGS, seeders=[])
    async with serving(app) as client:
        yield World(client, app.state.system)


@pytest.fixture
async def catalogue(world: World) -> Catalogue:
    async def heard_of_every_product() -> None:
        # Seven published, one of them withdrawn since; the draft never leaves its service.
        await eventually(lambda: _at_least(world.matching, 8), timeout=20)

    built = await handworked.build(world.client, SETTINGS, settle=heard_of_every_product)
    handworked.check(built, await handworked.settled(world.client, built))
    return built


async def test_the_hand_worked_catalogue_is_matched_as_worked_out(
    world: World, catalogue: Catalogue
) -> None:
    # The catalogue was in place before the request: one computation, one event.
    sent = [e for e in await world.match_set_events() if e.type.startswith("matching.")]
    assert [(e.type, e.aggregate_id, e.aggregate_version) for e in sent] == [
        ("matching.match_set.proposed.v1", catalogue.request_id, 1)
    ]
    assert sent[0].payload["excluded_total"] == 4
    assert [m["product_id"] for m in sent[0].payload["matches"]] == [
        catalogue.ids["eligible"],
        catalogue.ids["bundled"],
    ]
    read = ok(
        await world.client.get(f"/v1/match-sets/{catalogue.request_id}", headers=catalogue.exporter)
    )
    assert read["computed_at"].endswith(("Z", "+00:00"))  # UTC, said so, on SQLite too
    stored = await world.stored(catalogue.request_id)
    assert stored.version == 1 and stored.status == "proposed"
    assert stored.fx_as_of is not None and stored.catalogue_seq > 0


async def test_a_failing_reason_states_the_value_and_the_threshold_in_both_languages(
    world: World, catalogue: Catalogue
) -> None:
    url = f"/v1/match-sets/{catalogue.request_id}"
    small = catalogue.ids["small"]

    async def amount_reason(lang: str) -> tuple[str, str]:
        response = await world.client.get(
            url, headers={**catalogue.exporter, "Accept-Language": lang}
        )
        body = ok(response)
        (entry,) = [e for e in body["excluded"] if e["product_id"] == small]
        (reason,) = entry["reasons"]
        return response.headers["content-language"], reason["message"]

    assert await amount_reason("en-GB,en;q=0.8") == (
        "en",
        "amount 2,500,000 MAD is above this product's maximum of 2,000,000 MAD",
    )
    assert await amount_reason("fr-MA, en;q=0.5") == (
        "fr",
        "le montant de 2\u202f500\u202f000 MAD dépasse le maximum de 2\u202f000\u202f000 MAD"
        " de ce produit",
    )
    body = ok(await world.client.get(url, headers={**catalogue.exporter, "Accept-Language": "fr"}))
    years = handworked.years_exporting()
    messages = {
        catalogue.key_of(e["product_id"]): e["reasons"][0]["message"] for e in body["excluded"]
    }
    assert messages["seasoned"] == (
        f"{years} années d'exportation sont en deçà du minimum de 10 de ce produit"
    )
    assert messages["europe"] == (
        "la destination CI ne fait pas partie de celles de ce produit (europe)"
    )
    (bundled,) = [m for m in body["matches"] if m["product_id"] == catalogue.ids["bundled"]]
    (guarantee,) = [r for r in bundled["reasons"] if r["code"] == "guarantee"]
    assert guarantee["message"] == (
        "ce produit exige une garantie : satisfait en associant Garantie préfinancement"
    )


async def test_a_product_published_after_the_request_re_matches_it(
    world: World, catalogue: Catalogue
) -> None:
    before = await world.stored(catalogue.request_id)
    cheaper = handworked.loan("cheaper", pricing={"indicative_rate_pct": 3.0})
    new_id = await handworked.publish(world.client, catalogue.bank, cheaper)

    async def re_matched() -> MatchSet | None:
        stored = await world.stored(catalogue.request_id)
        return stored if stored.version > before.version else None

    after = await eventually(re_matched, timeout=20)
    assert after.version == before.version + 1
    assert after.matches[0]["product_id"] == new_id  # the cheapest ranks first
    updated = [
        e for e in await world.match_set_events() if e.type == "matching.match_set.updated.v1"
    ]
    assert [e.aggregate_version for e in updated] == [after.version]

    # Withdrawn, it leaves the set again: a new version, back to the hand-worked matches.
    ok(await world.client.post(f"/v1/products/{new_id}/withdraw", headers=catalogue.bank))
    handworked.check(catalogue, await handworked.settled(world.client, catalogue))
    assert (await world.stored(catalogue.request_id)).version == before.version + 2


async def test_a_profile_update_re_matches_the_exporters_open_requests(
    world: World, catalogue: Catalogue
) -> None:
    mine = ok(await world.client.get("/v1/exporters/me", headers=catalogue.exporter))
    changed = await world.client.patch(
        f"/v1/exporters/{mine['id']}",
        json={"founded_year": 2005, "exporting_since": 2010},
        headers=catalogue.exporter,
    )
    ok(changed)

    async def seasoned_fits() -> dict[str, Any] | None:
        body = ok(
            await world.client.get(
                f"/v1/match-sets/{catalogue.request_id}", headers=catalogue.exporter
            )
        )
        listed = {m["product_id"] for m in body["matches"]}
        return body if catalogue.ids["seasoned"] in listed else None

    body = await eventually(seasoned_fits, timeout=20)
    assert body["excluded_total"] == 3
    assert body["version"] == 2


async def test_an_approved_set_is_frozen_and_new_fits_come_as_new_since_review(
    world: World, catalogue: Catalogue
) -> None:
    async with world.matching.sessions() as session:
        stored = await session.get(MatchSet, UUID(catalogue.request_id))
        assert stored is not None
        stored.status = "approved"
        session.add(stored)
        await session.commit()
    frozen = await world.stored(catalogue.request_id)
    # A product leaving the catalogue does not change what was approved.
    ok(
        await world.client.post(
            f"/v1/products/{catalogue.ids['eligible']}/withdraw", headers=catalogue.bank
        )
    )
    new_id = await handworked.publish(world.client, catalogue.bank, handworked.loan("late"))

    async def appended() -> MatchSet | None:
        stored = await world.stored(catalogue.request_id)
        return stored if len(stored.matches) > len(frozen.matches) else None

    after = await eventually(appended, timeout=20)
    assert after.matches[: len(frozen.matches)] == frozen.matches
    (late,) = after.matches[len(frozen.matches) :]
    assert (late["product_id"], late["new_since_review"]) == (new_id, True)
    assert after.version == frozen.version + 1
    assert after.status == "approved"


async def test_the_excluded_products_page_nearest_first_with_a_cursor(
    world: World, catalogue: Catalogue
) -> None:
    url = f"/v1/match-sets/{catalogue.request_id}/excluded"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = ok(await world.client.get(url, params=params, headers=catalogue.exporter))
        assert body["excluded_total"] == 4
        seen += [catalogue.key_of(e["product_id"]) for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(handworked.EXCLUDED)
    assert len(seen) == 4
    stored = ok(
        await world.client.get(f"/v1/match-sets/{catalogue.request_id}", headers=catalogue.exporter)
    )
    assert [catalogue.key_of(e["product_id"]) for e in stored["excluded"]] == seen
    bad = await world.client.get(
        url, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=catalogue.exporter
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_only_the_owner_an_advisor_of_its_region_and_admins_see_a_match_set(
    world: World, catalogue: Catalogue
) -> None:
    for path in ("", "/excluded"):
        url = f"/v1/match-sets/{catalogue.request_id}{path}"
        allowed = [
            catalogue.exporter,
            bearer(SETTINGS, "advisor", regions=["souss-massa"]),
            bearer(SETTINGS, "admin"),
        ]
        for headers in allowed:
            assert (await world.client.get(url, headers=headers)).status_code == 200
        denied = [
            bearer(SETTINGS, "exporter", sub="x", org="another-org"),
            bearer(SETTINGS, "advisor", regions=["oriental"]),
        ]
        for headers in denied:
            response = await world.client.get(url, headers=headers)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"
        provider = await world.client.get(url, headers=catalogue.bank)
        assert provider.status_code == 403


async def test_odd_languages_and_cursors_get_a_clear_answer(
    world: World, catalogue: Catalogue
) -> None:
    url = f"/v1/match-sets/{catalogue.request_id}"
    fullwidth_fr = "\uff46\uff52".encode()  # a look-alike of "fr", sent as UTF-8 bytes
    odd_ones: list[str | bytes] = ["*", "zz-ZZ", "fr;q=0, en;q=0", "fr;q=abc", ";;;,,,"]
    for odd in [*odd_ones, fullwidth_fr, "fr" * 500]:
        response = await world.client.get(
            url, headers={**catalogue.exporter, "Accept-Language": odd}
        )
        assert response.status_code == 200, (odd, response.text)
        assert response.headers["content-language"] in ("en", "fr")
        assert response.json()["language"] == response.headers["content-language"]
    cursors = [
        encode_cursor([1, "not-a-uuid"]),
        encode_cursor(["1", str(catalogue.ids["small"])]),
        encode_cursor([True, str(catalogue.ids["small"])]),
        encode_cursor([1]),
        "\x00",
        "a" * 1001,
    ]
    for cursor in cursors:
        response = await world.client.get(
            f"{url}/excluded", params={"cursor": cursor}, headers=catalogue.exporter
        )
        assert response.status_code == 422, (cursor, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for request_id in ["not-a-uuid", "0" * 36, "%00"]:
        response = await world.client.get(
            f"/v1/match-sets/{request_id}/excluded", headers=catalogue.exporter
        )
        assert response.status_code in (404, 422), (request_id, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # A cursor after the last miss answers an empty page, not an error.
    last = encode_cursor([len(handworked.EXCLUDED) + 99, "ffffffff-ffff-ffff-ffff-ffffffffffff"])
    response = await world.client.get(
        f"{url}/excluded", params={"cursor": last}, headers=catalogue.exporter
    )
    assert (response.status_code, response.json()["items"]) == (200, [])
