"""The exporters service through HTTP, on SQLite: profiles, financing requests and consents,
who may see and change what (BOLA), and bad input that never writes anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from exporters.bootstrap import definition as exporters
from sqlmodel import func, select
from support.apps import sqlite_runtime
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.contracts import Envelope, events
from tasdir.routing import api_routes
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)


def profile(n: int = 1, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legal_name": f"Atlas Agrumes {n}",
        "ice": f"{n:015d}",
        "region": "souss-massa",
        "legal_form": "SARL",
        "founded_year": 2004,
        "exporting_since": 2009,
        "employees": 120,
        "annual_turnover_mad": "48000000",
        "export_turnover_mad": 36000000,
        "exports": [
            {"hs_code": "0805", "destination": "FR", "share_pct": 70},
            {"hs_code": "0805", "destination": "ES", "share_pct": "20"},
            {"hs_code": "0702", "destination": "FR", "share_pct": 10},
        ],
        "audited_accounts": True,
        "collateral_available_mad": "2500000.50",
    }
    body.update(changes)
    return body


def request_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "instrument": "pre_export_finance",
        "amount": "2500000",
        "currency": "MAD",
        "tenor_days": 180,
        "destination": "CI",
        "hs_codes": ["0805"],
        "purpose": "new_contract",
        "payment_terms": "lc",
        "buyer": {"name": "Abidjan Fresh SA", "country": "CI"},
    }
    body.update(changes)
    return body


@dataclass
class Service:
    client: httpx.AsyncClient
    runtime: ServiceRuntime[Any]

    async def rows(self, model: Any) -> int:
        async with self.runtime.sessions() as session:
            return int((await session.exec(select(func.count()).select_from(model))).one())

    async def events(self) -> list[Envelope]:
        outbox = self.runtime.tables.outbox
        async with self.runtime.sessions() as session:
            rows = (await session.exec(select(outbox).order_by(outbox.id))).all()  # type: ignore[arg-type]
        return [Envelope.model_validate_json(row.body) for row in rows]

    async def know_provider(self, provider_id: UUID) -> None:
        snapshot = events.ProviderRegistered(
            id=provider_id, name="Banque", kind="bank", country="MA", regions=()
        )
        envelope = Envelope.wrap(
            snapshot,
            producer="credit_products",
            aggregate_id=str(provider_id),
            aggregate_version=1,
            correlation_id="c",
        )
        async with self.runtime.uow() as uow:
            await uow.providers.apply_event(envelope, snapshot)
            await uow.commit()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    runtime = await sqlite_runtime(exporters, tmp_path, SETTINGS)
    app = create_app("exporters", [runtime], SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Service(client, runtime)
    await runtime.dispose()


def exporter_of(org: str, sub: str | None = None) -> dict[str, str]:
    return bearer(SETTINGS, "exporter", sub=sub or f"{org}-user", org=org)


A, B = exporter_of("org-a"), exporter_of("org-b")
ADMIN = bearer(SETTINGS, "admin")


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def named(response: httpx.Response) -> set[str]:
    return {error["field"] for error in problem(response, 422)["errors"]}


async def registered(service: Service, headers: dict[str, str], n: int = 1, **changes: Any) -> Any:
    response = await service.client.post(
        "/v1/exporters", json=profile(n, **changes), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


# ------------------------------------------------------------------ the profile


async def test_a_full_profile_is_registered_with_its_derived_fields(service: Service) -> None:
    created = await registered(service, A)
    assert created["org"] == "org-a" and created["status"] == "active"
    assert created["annual_turnover_mad"] == "48000000.00"
    assert created["collateral_available_mad"] == "2500000.50"
    assert created["export_share_pct"] == 75.0
    assert created["is_mono_market"] is True and created["is_mono_product"] is True
    assert created["years_exporting"] >= 17
    assert created["exports"][1] == {"hs_code": "0805", "destination": "ES", "share_pct": 20.0}
    assert (await service.client.get("/v1/exporters/me", headers=A)).json() == created
    one = await service.client.get(f"/v1/exporters/{created['id']}", headers=A)
    assert one.json() == created
    (event,) = await service.events()
    assert event.type == events.ExporterRegistered.event_type
    assert event.aggregate_version == 1 and event.payload["is_mono_market"] is True


async def test_two_principals_of_one_org_share_the_profile(service: Service) -> None:
    created = await registered(service, exporter_of("org-a", "amina"))
    colleague = exporter_of("org-a", "youssef")
    assert (await service.client.get("/v1/exporters/me", headers=colleague)).json() == created
    second = await service.client.post("/v1/exporters", json=profile(2), headers=colleague)
    assert problem(second, 409)["type"].endswith("/duplicate")


SCHEMA_INVALID = {
    "ice-14-digits": ({"ice": "0" * 14}, "ice"),
    "ice-arabic-indic": ({"ice": "\u0660" * 15}, "ice"),
    "region-unknown": ({"region": "atlantis"}, "region"),
    "employees-negative": ({"employees": -1}, "employees"),
    "turnover-negative": ({"annual_turnover_mad": "-1"}, "annual_turnover_mad"),
    "turnover-not-a-number": ({"annual_turnover_mad": "lots"}, "annual_turnover_mad"),
    "mad-three-decimals": ({"collateral_available_mad": "1.001"}, "collateral_available_mad"),
    "hs-code-malformed": (
        {"exports": [{"hs_code": "8", "destination": "FR", "share_pct": 1}]},
        "exports.0.hs_code",
    ),
    "destination-unknown": (
        {"exports": [{"hs_code": "08", "destination": "XX", "share_pct": 1}]},
        "exports.0.destination",
    ),
    "share-zero": (
        {"exports": [{"hs_code": "08", "destination": "FR", "share_pct": 0}]},
        "exports.0.share_pct",
    ),
    "unknown-field": ({"website": "x"}, "website"),
    "read-only-id": ({"id": str(uuid4())}, "id"),
    "read-only-org": ({"org": "other"}, "org"),
    "read-only-status": ({"status": "active"}, "status"),
    "read-only-flag": ({"is_mono_market": False}, "is_mono_market"),
    "read-only-years": ({"years_exporting": 3}, "years_exporting"),
    "name-nul": ({"legal_name": "A\u0000B"}, "legal_name"),
}
DOMAIN_INVALID = {
    "founded-future": ({"founded_year": 2099}, "founded_year"),
    "since-before-founded": ({"exporting_since": 1999}, "exporting_since"),
    "export-over-turnover": ({"export_turnover_mad": "48000001"}, "export_turnover_mad"),
    "hs-chapter-unknown": (
        {"exports": [{"hs_code": "77", "destination": "FR", "share_pct": 1}]},
        "exports.0.hs_code",
    ),
    "shares-over-100": (
        {
            "exports": [
                {"hs_code": "0805", "destination": "FR", "share_pct": 60},
                {"hs_code": "0805", "destination": "ES", "share_pct": 41},
            ]
        },
        "exports",
    ),
}


@pytest.mark.parametrize(
    ("changes", "field"),
    list(SCHEMA_INVALID.values()) + list(DOMAIN_INVALID.values()),
    ids=list(SCHEMA_INVALID) + list(DOMAIN_INVALID),
)
async def test_each_rule_is_a_422_naming_the_field_and_writes_nothing(
    service: Service, changes: dict[str, Any], field: str
) -> None:
    response = await service.client.post("/v1/exporters", json=profile(**changes), headers=A)
    assert field in named(response)
    assert await service.events() == []
    problem(await service.client.get("/v1/exporters/me", headers=A), 404)


async def test_an_ice_taken_is_a_409(service: Service) -> None:
    await registered(service, A)
    taken = await service.client.post("/v1/exporters", json=profile(1), headers=B)
    assert problem(taken, 409)["type"].endswith("/duplicate-ice")


async def test_a_revision_changes_what_is_sent_and_emits_updated(service: Service) -> None:
    created = await registered(service, A)
    url = f"/v1/exporters/{created['id']}"
    revised = await service.client.patch(
        url,
        json={
            "exports": [{"hs_code": "0805", "destination": "NG", "share_pct": 50}],
            "employees": None,
        },
        headers=A,
    )
    assert revised.status_code == 200, revised.text
    body = revised.json()
    assert (body["version"], body["employees"], body["is_mono_market"]) == (2, None, True)
    assert body["legal_name"] == created["legal_name"]
    same = await service.client.patch(url, json={"legal_name": created["legal_name"]}, headers=A)
    assert same.json()["version"] == 2  # nothing changed: no version, no event
    updated = [e for e in await service.events() if e.type.endswith("updated.v1")]
    assert [e.aggregate_version for e in updated] == [2]
    for bad, field in (
        ({"legal_name": None}, "legal_name"),
        ({"region": None}, "region"),
        ({"org": "x"}, "org"),
        ({"export_share_pct": 3}, "export_share_pct"),
    ):
        assert field in named(await service.client.patch(url, json=bad, headers=A))


async def test_deactivation_stops_changes_and_requests(service: Service) -> None:
    created = await registered(service, A)
    stopped = await service.client.post(f"/v1/exporters/{created['id']}/deactivate", headers=A)
    assert stopped.json()["status"] == "deactivated"
    again = await service.client.post(f"/v1/exporters/{created['id']}/deactivate", headers=ADMIN)
    assert again.json()["version"] == 2
    refused = await service.client.patch(
        f"/v1/exporters/{created['id']}", json={"employees": 3}, headers=A
    )
    assert problem(refused, 409)["type"].endswith("/exporter-deactivated")
    asking = await service.client.post("/v1/financing-requests", json=request_body(), headers=A)
    problem(asking, 409)
    assert [e.type.split(".")[2] for e in await service.events()] == ["registered", "deactivated"]


async def test_advisors_list_their_regions_with_filters_and_stable_pages(service: Service) -> None:
    await registered(service, exporter_of("o1"), 1)  # souss-massa, mono-market, 07 and 08
    await registered(
        service,
        exporter_of("o2"),
        2,
        region="oriental",
        exports=[{"hs_code": "6109", "destination": "FR", "share_pct": 40}],
    )
    await registered(
        service,
        exporter_of("o3"),
        3,
        exports=[
            {"hs_code": "6109", "destination": "FR", "share_pct": 40},
            {"hs_code": "6109", "destination": "DE", "share_pct": 40},
        ],
    )
    advisor = bearer(SETTINGS, "advisor", regions=["souss-massa"])

    async def orgs(headers: dict[str, str], **params: Any) -> list[str]:
        response = await service.client.get("/v1/exporters", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["org"] for item in response.json()["items"]]

    assert await orgs(advisor) == ["o1", "o3"]
    assert await orgs(advisor, region="oriental") == []
    assert await orgs(advisor, hs_chapter="61") == ["o3"]
    assert await orgs(advisor, mono_market="true") == ["o1"]
    assert await orgs(advisor, mono_market="false") == ["o3"]
    assert await orgs(ADMIN) == ["o1", "o2", "o3"]
    assert await orgs(ADMIN, region="oriental") == ["o2"]
    first = await service.client.get("/v1/exporters", params={"limit": 2}, headers=ADMIN)
    cursor = first.json()["next_cursor"]
    rest = await service.client.get(
        "/v1/exporters", params={"limit": 2, "cursor": cursor}, headers=ADMIN
    )
    assert [i["org"] for i in rest.json()["items"]] == ["o3"]
    assert "hs_chapter" in named(
        await service.client.get("/v1/exporters", params={"hs_chapter": "8"}, headers=ADMIN)
    )
    problem(await service.client.get("/v1/exporters", headers=A), 403)


# ------------------------------------------------------------------ BOLA


async def test_another_org_sees_and_changes_nothing_of_a_profile(service: Service) -> None:
    created = await registered(service, A)
    url = f"/v1/exporters/{created['id']}"
    provider = uuid4()
    await service.know_provider(provider)
    before = await service.events()
    problem(await service.client.get(url, headers=B), 404)
    problem(await service.client.patch(url, json={"employees": 1}, headers=B), 404)
    problem(await service.client.post(f"{url}/deactivate", headers=B), 404)
    problem(
        await service.client.post(
            f"{url}/consents", json={"provider_id": str(provider)}, headers=B
        ),
        404,
    )
    problem(await service.client.get(f"{url}/consents", headers=B), 404)
    problem(await service.client.delete(f"{url}/consents/{provider}", headers=B), 404)
    outsider = bearer(SETTINGS, "advisor", regions=["oriental"])
    problem(await service.client.get(url, headers=outsider), 404)
    problem(await service.client.get(f"{url}/consents", headers=outsider), 404)
    insider = bearer(SETTINGS, "advisor", regions=["souss-massa"])
    assert (await service.client.get(url, headers=insider)).status_code == 200
    assert await service.events() == before
    assert (await service.client.get(url, headers=A)).json() == created


async def test_another_org_sees_and_changes_nothing_of_a_request(service: Service) -> None:
    await registered(service, A)
    await registered(service, B, 2)
    made = await service.client.post("/v1/financing-requests", json=request_body(), headers=A)
    assert made.status_code == 201, made.text
    url = f"/v1/financing-requests/{made.json()['id']}"
    before = await service.events()
    problem(await service.client.get(url, headers=B), 404)
    problem(await service.client.patch(url, json={"tenor_days": 30}, headers=B), 404)
    problem(await service.client.post(f"{url}/withdraw", headers=B), 404)
    listed = await service.client.get("/v1/financing-requests", headers=B)
    assert listed.json()["items"] == []
    outsider = bearer(SETTINGS, "advisor", regions=["oriental"])
    problem(await service.client.get(url, headers=outsider), 404)
    assert (await service.client.get("/v1/financing-requests", headers=outsider)).json()[
        "items"
    ] == []
    assert await service.events() == before
    assert (await service.client.get(url, headers=A)).json() == made.json()


async def test_a_provider_gets_403_on_every_route_here(service: Service) -> None:
    provider = bearer(SETTINGS, "provider")
    app = service.client._transport.app  # type: ignore[attr-defined]
    routes = list(api_routes(app.routes))
    some_id = str(uuid4())
    checked = 0
    for route, path in routes:
        if not path.startswith(("/v1/exporters", "/v1/financing-requests")):
            continue
        concrete = path.replace("{exporter_id}", some_id).replace("{request_id}", some_id)
        concrete = concrete.replace("{provider_id}", some_id)
        for method in route.methods or ():
            response = await service.client.request(method, concrete, headers=provider, json={})
            problem(response, 403)
            checked += 1
    assert checked >= 14


# ------------------------------------------------------------------ financing requests


async def test_a_request_is_submitted_read_listed_amended_and_withdrawn(service: Service) -> None:
    created = await registered(service, A)
    made = await service.client.post(
        "/v1/financing-requests",
        json=request_body(amount=1500000.5, currency="EUR", instrument="post_shipment"),
        headers=A,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["status"], body["amount"], body["region"]) == (
        "submitted",
        "1500000.50",
        "souss-massa",
    )
    assert body["exporter_id"] == created["id"]
    url = f"/v1/financing-requests/{body['id']}"
    advisor = bearer(SETTINGS, "advisor", regions=["souss-massa"])
    assert (await service.client.get(url, headers=advisor)).json() == body
    mine = await service.client.get(
        "/v1/financing-requests", params={"status": "submitted"}, headers=A
    )
    assert [item["id"] for item in mine.json()["items"]] == [body["id"]]
    amended = await service.client.patch(url, json={"tenor_days": 90, "buyer": None}, headers=A)
    assert (amended.json()["tenor_days"], amended.json()["buyer"], amended.json()["version"]) == (
        90,
        None,
        2,
    )
    withdrawn = await service.client.post(f"{url}/withdraw", headers=A)
    assert withdrawn.json()["status"] == "withdrawn"
    problem(await service.client.patch(url, json={"tenor_days": 30}, headers=A), 409)
    problem(await service.client.post(f"{url}/withdraw", headers=A), 409)
    kinds = [e.type for e in await service.events() if "financing_request" in e.type]
    assert kinds == [
        events.FinancingRequestSubmitted.event_type,
        events.FinancingRequestAmended.event_type,
        events.FinancingRequestWithdrawn.event_type,
    ]


REQUEST_INVALID = {
    "instrument-unknown": ({"instrument": "loan_shark"}, "instrument"),
    "currency-unknown": ({"currency": "ABC"}, "currency"),
    "tenor-zero": ({"tenor_days": 0}, "tenor_days"),
    "tenor-over-ten-years": ({"tenor_days": 3651}, "tenor_days"),
    "needed-by-past": ({"needed_by": "2020-01-01"}, "needed_by"),
    "purpose-unknown": ({"purpose": "holiday"}, "purpose"),
    "payment-terms-unknown": ({"payment_terms": "barter"}, "payment_terms"),
    "destination-bloc": ({"destination": "afcfta"}, "destination"),
    "hs-codes-empty": ({"hs_codes": []}, "hs_codes"),
    "hs-code-unknown-chapter": ({"hs_codes": ["7701"]}, "hs_codes.0"),
    "amount-zero": ({"amount": 0}, "amount"),
    "amount-cents-of-xof": ({"amount": "10.5", "currency": "XOF"}, "amount"),
    "read-only-status": ({"status": "closed"}, "status"),
    "buyer-country": ({"buyer": {"name": "X", "country": "XX"}}, "buyer.country"),
}


@pytest.mark.parametrize(
    ("changes", "field"), list(REQUEST_INVALID.values()), ids=list(REQUEST_INVALID)
)
async def test_each_request_rule_is_a_422_naming_the_field_and_writes_nothing(
    service: Service, changes: dict[str, Any], field: str
) -> None:
    await registered(service, A)
    before = await service.events()
    response = await service.client.post(
        "/v1/financing-requests", json=request_body(**changes), headers=A
    )
    assert field in named(response)
    assert await service.events() == before


# ------------------------------------------------------------------ consents


async def test_consent_is_granted_listed_revoked_and_granted_again(service: Service) -> None:
    created = await registered(service, A)
    url = f"/v1/exporters/{created['id']}/consents"
    unknown = await service.client.post(url, json={"provider_id": str(uuid4())}, headers=A)
    assert named(unknown) == {"provider_id"}
    provider = uuid4()
    await service.know_provider(provider)
    granted = await service.client.post(url, json={"provider_id": str(provider)}, headers=A)
    assert granted.status_code == 201, granted.text
    assert granted.json()["status"] == "granted"
    again = await service.client.post(url, json={"provider_id": str(provider)}, headers=A)
    assert again.status_code == 200 and again.json()["version"] == 1
    listed = await service.client.get(url, headers=A)
    assert [c["provider_id"] for c in listed.json()["items"]] == [str(provider)]
    revoked = await service.client.delete(f"{url}/{provider}", headers=A)
    assert revoked.json()["status"] == "revoked"
    problem(await service.client.delete(f"{url}/{provider}", headers=A), 409)
    problem(await service.client.delete(f"{url}/{uuid4()}", headers=A), 404)
    past = await service.client.post(
        url, json={"provider_id": str(provider), "expires_at": "2020-01-01T00:00:00Z"}, headers=A
    )
    assert named(past) == {"expires_at"}
    naive = await service.client.post(
        url, json={"provider_id": str(provider), "expires_at": "2099-01-01T00:00:00"}, headers=A
    )
    assert named(naive) == {"expires_at"}
    regranted = await service.client.post(
        url, json={"provider_id": str(provider), "expires_at": "2099-01-01T00:00:00Z"}, headers=A
    )
    assert regranted.status_code == 200 and regranted.json()["status"] == "granted"
    kinds = [e.type.split(".")[2] for e in await service.events() if ".consent." in e.type]
    assert kinds == ["granted", "revoked", "granted"]


async def test_a_request_retried_with_its_idempotency_key_is_submitted_once(
    service: Service,
) -> None:
    await registered(service, A)
    keyed = {**A, "Idempotency-Key": "request-1"}
    first = await service.client.post("/v1/financing-requests", json=request_body(), headers=keyed)
    again = await service.client.post("/v1/financing-requests", json=request_body(), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    submitted = [e for e in await service.events() if e.type.endswith("submitted.v1")]
    assert len(submitted) == 1
