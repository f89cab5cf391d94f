"""Products through HTTP, on SQLite: a provider's drafts, versions and catalogue, who may
write (BOLA, 403), and bad bodies that never write anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from sqlmodel import select
from support.apps import sqlite_runtime
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.contracts import Envelope, events
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
ADMIN = bearer(SETTINGS, "admin")


def loan(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": {"fr": "Préfinancement export agroalimentaire", "en": "Agrifood pre-export loan"},
        "description": {
            "fr": "Pour les PME qui exportent des produits alimentaires vers la ZLECAf.",
            "en": "For SMEs exporting food products to AfCFTA markets.",
        },
        "instrument": "pre_export_finance",
        "currencies": ["MAD"],
        "amount_currency": "MAD",
        "amount_min": "500000",
        "amount_max": 20000000,
        "tenor_min_days": 30,
        "tenor_max_days": 360,
        "eligibility": {
            "hs_chapters_include": [f"{n:02d}" for n in range(1, 25)],
            "destinations_include": ["afcfta"],
            "max_employees": 250,
            "requires_audited_accounts": True,
            "requires_guarantee": True,
        },
        "pricing": {"indicative_rate_pct": 5.5, "fees_pct": 0.5},
        "decision_days": 10,
    }
    body.update(changes)
    return body


@dataclass
class Service:
    client: httpx.AsyncClient
    runtime: ServiceRuntime[Any]

    async def events(self) -> list[Envelope]:
        outbox = self.runtime.tables.outbox
        async with self.runtime.sessions() as session:
            rows = (await session.exec(select(outbox).order_by(outbox.id))).all()  # type: ignore[arg-type]
        return [Envelope.model_validate_json(row.body) for row in rows]

    async def product_events(self) -> list[Envelope]:
        return [e for e in await self.events() if ".product." in e.type]

    async def provider(self, name: str = "Banque Atlas") -> dict[str, str]:
        created = await self.client.post(
            "/v1/providers", json={"name": name, "kind": "bank", "country": "MA"}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        return bearer(SETTINGS, "provider", provider_id=created.json()["id"])

    async def created(self, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/products", json=loan(**changes), headers=headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def published(self, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
        product = await self.created(headers, **changes)
        response = await self.client.post(f"/v1/products/{product['id']}/publish", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    runtime = await sqlite_runtime(credit_products, tmp_path, SETTINGS)
    app = create_app("credit_products", [runtime], SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Service(client, runtime)
    await runtime.dispose()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def named(response: httpx.Response) -> set[str]:
    return {error["field"] for error in problem(response, 422)["errors"]}


async def test_a_draft_is_its_providers_until_published(service: Service) -> None:
    bank = await service.provider()
    product = await service.created(bank)
    assert (product["status"], product["version"], product["version_status"]) == (
        "draft",
        1,
        "draft",
    )
    assert product["amount_min"] == "500000.00" and product["amount_max"] == "20000000.00"
    assert product["eligibility"]["destinations_include"] == ["afcfta"]
    url = f"/v1/products/{product['id']}"
    exporter = bearer(SETTINGS, "exporter")
    problem(await service.client.get(url, headers=exporter), 404)
    problem(await service.client.get(f"{url}/versions/1", headers=exporter), 404)
    listed = await service.client.get("/v1/products", headers=exporter)
    assert listed.json()["items"] == []
    mine = await service.client.get("/v1/products", headers=bank)
    assert [p["id"] for p in mine.json()["items"]] == [product["id"]]
    assert await service.product_events() == []  # a draft is nobody else's business


async def test_versions_stay_readable_and_unchanged(service: Service) -> None:
    bank = await service.provider()
    first = await service.published(bank)
    url = f"/v1/products/{first['id']}"
    revised = await service.client.patch(
        url, json={"pricing": {"indicative_rate_pct": 6.25}}, headers=bank
    )
    assert (revised.json()["version"], revised.json()["version_status"]) == (2, "draft")
    exporter = bearer(SETTINGS, "exporter")
    # Until version 2 is published, the catalogue keeps version 1.
    shown = (await service.client.get(url, headers=exporter)).json()
    assert (shown["version"], shown["pricing"]["indicative_rate_pct"]) == (1, 5.5)
    republished = await service.client.post(f"{url}/publish", headers=bank)
    assert republished.json()["version"] == 2
    old = await service.client.get(f"{url}/versions/1", headers=exporter)
    assert old.status_code == 200
    assert {k: v for k, v in old.json().items() if k not in ("status", "version_status")} == {
        k: v for k, v in first.items() if k not in ("status", "version_status")
    }
    assert old.json()["version_status"] == "superseded"
    kinds = [
        (e.type.split(".")[2], e.aggregate_version, e.payload["product_version"])
        for e in await service.product_events()
    ]
    assert kinds == [("published", 1, 1), ("published", 2, 2)]
    withdrawn = await service.client.post(f"{url}/withdraw", headers=bank)
    assert withdrawn.json()["status"] == "withdrawn"
    last = (await service.product_events())[-1]
    assert (last.type, last.aggregate_version, last.payload["product_version"]) == (
        events.ProductWithdrawn.event_type,
        3,
        2,
    )
    assert last.payload["eligibility"]["hs_chapters_include"][0] == "01"
    problem(await service.client.patch(url, json={"decision_days": 3}, headers=bank), 409)


async def test_another_provider_cannot_touch_a_product(service: Service) -> None:
    a = await service.provider("Banque A")
    b = await service.provider("Banque B")
    draft = await service.created(a)
    public = await service.published(a)
    before = await service.events()
    for product in (draft, public):
        url = f"/v1/products/{product['id']}"
        problem(await service.client.patch(url, json={"decision_days": 1}, headers=b), 404)
        problem(await service.client.post(f"{url}/publish", headers=b), 404)
        problem(await service.client.post(f"{url}/withdraw", headers=b), 404)
    problem(await service.client.get(f"/v1/products/{draft['id']}", headers=b), 404)
    assert (await service.client.get(f"/v1/products/{public['id']}", headers=b)).status_code == 200
    listed = await service.client.get("/v1/products", headers=b)
    assert [p["id"] for p in listed.json()["items"]] == [public["id"]]
    assert await service.events() == before


@pytest.mark.parametrize("role", ["exporter", "advisor", "admin"])
async def test_other_roles_read_but_never_write(service: Service, role: str) -> None:
    bank = await service.provider()
    product = await service.published(bank)
    headers = bearer(SETTINGS, role)
    url = f"/v1/products/{product['id']}"
    problem(await service.client.post("/v1/products", json=loan(), headers=headers), 403)
    problem(await service.client.patch(url, json={"decision_days": 1}, headers=headers), 403)
    problem(await service.client.post(f"{url}/publish", headers=headers), 403)
    problem(await service.client.post(f"{url}/withdraw", headers=headers), 403)
    assert (await service.client.get(url, headers=headers)).status_code == 200
    provider = bearer(SETTINGS, "provider")
    problem(
        await service.client.post(
            "/v1/providers", json={"name": "X", "kind": "bank", "country": "MA"}, headers=provider
        ),
        403,
    )


async def test_a_provider_not_registered_cannot_create(service: Service) -> None:
    stranger = bearer(SETTINGS, "provider", provider_id=uuid4())
    refused = await service.client.post("/v1/products", json=loan(), headers=stranger)
    assert problem(refused, 409)["type"].endswith("/unknown-provider")


SCHEMA_INVALID = {
    "unknown-field": ({"colour": "blue"}, "colour"),
    "read-only-id": ({"id": str(uuid4())}, "id"),
    "read-only-status": ({"status": "published"}, "status"),
    "read-only-version": ({"version": 3}, "version"),
    "instrument-unknown": ({"instrument": "loan_shark"}, "instrument"),
    "currency-unknown": ({"currencies": ["ABC"]}, "currencies.0"),
    "region-unknown": ({"eligibility": {"regions": ["atlantis"]}}, "eligibility.regions.0"),
    "hs-chapter-unknown": (
        {"eligibility": {"hs_chapters_include": ["77"]}},
        "eligibility.hs_chapters_include.0",
    ),
    "destination-unknown": (
        {"eligibility": {"destinations_include": ["atlantis"]}},
        "eligibility.destinations_include.0",
    ),
    "share-over-100": (
        {"eligibility": {"min_export_share_pct": 101}},
        "eligibility.min_export_share_pct",
    ),
    "cover-negative": ({"cover_pct": -1}, "cover_pct"),
    "tenor-zero": ({"tenor_min_days": 0}, "tenor_min_days"),
    "amount-not-a-number": ({"amount_min": "lots"}, "amount_min"),
    "eligibility-unknown-rule": ({"eligibility": {"min_age": 3}}, "eligibility.min_age"),
    "name-nul": ({"name": {"fr": "A\u0000", "en": "B"}}, "name.fr"),
}
DOMAIN_INVALID = {
    "amount-min-above-max": ({"amount_min": 30000000}, "amount_min"),
    "tenor-min-above-max": ({"tenor_min_days": 400}, "tenor_min_days"),
    "turnover-min-above-max": (
        {"eligibility": {"min_turnover_mad": 10, "max_turnover_mad": 5}},
        "eligibility.min_turnover_mad",
    ),
    "valid-from-on-or-after-to": (
        {"valid_from": "2027-06-01", "valid_to": "2027-01-01"},
        "valid_from",
    ),
    "guarantee-without-cover": (
        {"instrument": "export_credit_guarantee", "covers_instruments": ["pre_export_finance"]},
        "cover_pct",
    ),
    "guarantee-covering-nothing": (
        {"instrument": "export_credit_guarantee", "cover_pct": 70},
        "covers_instruments",
    ),
    "insurance-without-cover": ({"instrument": "prospection_insurance"}, "cover_pct"),
    "cents-of-xof": ({"amount_currency": "XOF", "amount_min": "10.5"}, "amount_min"),
}


@pytest.mark.parametrize(
    ("changes", "field"),
    list(SCHEMA_INVALID.values()) + list(DOMAIN_INVALID.values()),
    ids=list(SCHEMA_INVALID) + list(DOMAIN_INVALID),
)
async def test_each_rule_is_a_422_naming_the_field_and_writes_nothing(
    service: Service, changes: dict[str, Any], field: str
) -> None:
    bank = await service.provider()
    response = await service.client.post("/v1/products", json=loan(**changes), headers=bank)
    assert field in named(response)
    mine = await service.client.get("/v1/products", headers=bank)
    assert mine.json()["items"] == []


async def test_a_bad_revision_changes_nothing(service: Service) -> None:
    bank = await service.provider()
    product = await service.published(bank)
    url = f"/v1/products/{product['id']}"
    for body, field in (
        ({"amount_min": 99000000}, "amount_min"),
        ({"instrument": None}, "instrument"),
        ({"status": "draft"}, "status"),
    ):
        assert field in named(await service.client.patch(url, json=body, headers=bank))
    shown = (await service.client.get(url, headers=bank)).json()
    assert (shown["version"], shown["version_status"]) == (1, "published")


async def test_the_catalogue_filters(service: Service) -> None:
    bank = await service.provider()
    food = await service.published(bank)
    textiles = await service.published(
        bank,
        instrument="receivables_discounting",
        currencies=["EUR"],
        amount_currency="EUR",
        amount_min="10000",
        amount_max="500000",
        eligibility={"hs_chapters_include": ["61", "62"], "destinations_include": ["eu"]},
    )
    exporter = bearer(SETTINGS, "exporter")

    async def ids(**params: Any) -> list[str]:
        response = await service.client.get("/v1/products", params=params, headers=exporter)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids() == [food["id"], textiles["id"]]
    assert await ids(instrument="pre_shipment") == [food["id"]]
    assert await ids(instrument="post_shipment") == [textiles["id"]]
    assert await ids(currency="EUR") == [textiles["id"]]
    assert await ids(destination="CI") == [food["id"]]
    assert await ids(destination="FR") == [textiles["id"]]
    assert await ids(destination="western-africa") == [food["id"]]
    assert await ids(hs_chapter="08") == [food["id"]]
    assert await ids(hs_chapter="61") == [textiles["id"]]
    # 200,000 EUR is some 2 million MAD: within both products' bounds.
    assert await ids(amount="200000", amount_currency="EUR") == [food["id"], textiles["id"]]
    # 150,000 MAD: some 14,400 EUR, under the food loan's 500,000 MAD.
    assert await ids(amount="150000") == [textiles["id"]]
    assert await ids(provider_id=food["provider_id"], limit=1) == [food["id"]]
    page = await service.client.get("/v1/products", params={"limit": 1}, headers=exporter)
    rest = await service.client.get(
        "/v1/products", params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=exporter
    )
    assert [p["id"] for p in rest.json()["items"]] == [textiles["id"]]
    assert named(
        await service.client.get("/v1/products", params={"destination": "XX"}, headers=exporter)
    ) == {"destination"}


async def test_a_retried_creation_with_its_key_makes_one_product(service: Service) -> None:
    bank = await service.provider()
    keyed = {**bank, "Idempotency-Key": "product-1"}
    first = await service.client.post("/v1/products", json=loan(), headers=keyed)
    again = await service.client.post("/v1/products", json=loan(), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len((await service.client.get("/v1/products", headers=bank)).json()["items"]) == 1


async def test_a_product_without_bounds_holds_any_amount_in_any_currency(service: Service) -> None:
    bank = await service.provider()
    open_ended = await service.published(bank, amount_min=None, amount_max=None)
    exporter = bearer(SETTINGS, "exporter")
    # BRL has no rate in the reference table: a bounded product cannot be compared, this one
    # has nothing to compare.
    listed = await service.client.get(
        "/v1/products", params={"amount": "1000", "amount_currency": "BRL"}, headers=exporter
    )
    assert [p["id"] for p in listed.json()["items"]] == [open_ended["id"]]
