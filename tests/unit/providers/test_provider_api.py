"""`/v1/providers` as its users see it: admins register, a provider revises its own, all read."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import httpx
import pytest
from credit_products.adapters.orm import ProviderRow as Provider
from sqlmodel import func, select
from tasdir.idempotency import REPLAYED_HEADER
from unit.providers.kit import (
    ADMIN,
    URL,
    CreditProducts,
    auth,
    fields_named,
    is_problem,
    provider_body,
)

REGISTERED = "credit_products.provider.registered.v1"
UPDATED = "credit_products.provider.updated.v1"


async def register(client: httpx.AsyncClient, n: int = 1, **changes: Any) -> dict[str, Any]:
    response = await client.post(URL, json=provider_body(n, **changes), headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def providers_stored(service: CreditProducts) -> int:
    async with service.runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(Provider))).one()


# ------------------------------------------------------------------ register


async def test_an_admin_registers_a_provider_and_its_event_is_in_the_outbox(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    response = await client.post(URL, json=provider_body(), headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Banque Atlas 1",
        "kind": "bank",
        "country": "MA",
        "regions": ["casablanca-settat", "souss-massa"],  # a set, kept sorted
        "contact": "export-desk-1@atlas.example",
        "status": "active",
        "version": 1,
    }
    [event] = await service.events()
    assert event.type == REGISTERED
    assert event.producer == "credit_products"
    assert event.aggregate_id == body["id"]
    assert event.aggregate_version == 1
    assert event.payload == {k: v for k, v in body.items() if k != "version"}


async def test_a_national_provider_has_no_regions_and_no_contact(
    client: httpx.AsyncClient,
) -> None:
    body = {"name": "Assurance Crédit Sud", "kind": "insurer", "country": "MA"}
    response = await client.post(URL, json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json()["regions"] == []
    assert response.json()["contact"] is None


@pytest.mark.parametrize("role", ["exporter", "provider", "advisor"])
async def test_only_an_admin_may_register_a_provider(
    client: httpx.AsyncClient, service: CreditProducts, role: str
) -> None:
    headers = auth(role, provider_id=str(uuid4()))
    response = await client.post(URL, json=provider_body(), headers=headers)
    is_problem(response, 403)
    assert await providers_stored(service) == 0
    assert await service.events() == []


async def test_registering_needs_a_token(client: httpx.AsyncClient) -> None:
    is_problem(await client.post(URL, json=provider_body()), 401)
    bad = {"Authorization": "Bearer not-a-token"}
    is_problem(await client.post(URL, json=provider_body(), headers=bad), 401)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "hedge_fund"}, "kind"),
        ({"country": "XX"}, "country"),
        ({"country": "ma"}, "country"),  # ISO writes it upper-case
        ({"country": "MAR"}, "country"),
        ({"regions": ["souss-massa", "atlantis"]}, "regions"),
        ({"regions": "souss-massa"}, "regions"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"website": "https://atlas.example"}, "website"),
        ({"id": str(uuid4())}, "id"),
        ({"status": "active"}, "status"),
        ({"version": 3}, "version"),
    ],
)
async def test_a_bad_body_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    service: CreditProducts,
    changes: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(URL, json=provider_body(**changes), headers=ADMIN)
    problem = is_problem(response, 422)
    assert fields_named(problem) == {field}
    assert field in problem["detail"]
    assert await service.events() == []


async def test_a_missing_field_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    body = provider_body()
    del body["kind"]
    problem = is_problem(await client.post(URL, json=body, headers=ADMIN), 422)
    assert fields_named(problem) == {"kind"}


# ------------------------------------------------------------------ idempotency


async def test_a_retried_registration_with_its_key_creates_one_provider(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    headers = {**ADMIN, "Idempotency-Key": "register-atlas"}
    first = await client.post(URL, json=provider_body(), headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(
        URL,
        content=json.dumps(provider_body(), indent=2),
        headers={**headers, "content-type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == first.json()
    assert await providers_stored(service) == 1
    assert [e.type for e in await service.events()] == [REGISTERED]


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    headers = {**ADMIN, "Idempotency-Key": "register-atlas"}
    assert (await client.post(URL, json=provider_body(), headers=headers)).status_code == 201
    other = await client.post(URL, json=provider_body(2), headers=headers)
    problem = is_problem(other, 422)
    assert problem["type"].endswith("/idempotency-key-reused")
    assert await providers_stored(service) == 1


async def test_without_a_key_a_retry_registers_again(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    await register(client)
    await register(client)
    assert await providers_stored(service) == 2


# ------------------------------------------------------------------ revise


async def test_an_admin_patch_bumps_the_version_and_emits_updated(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    created = await register(client)
    response = await client.patch(
        f"{URL}/{created['id']}",
        json={"name": "Banque Atlas Export", "regions": [], "contact": None},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated == {
        **created,
        "name": "Banque Atlas Export",
        "regions": [],
        "contact": None,
        "version": 2,
    }
    registered, event = await service.events()
    assert registered.aggregate_version == 1
    assert event.type == UPDATED
    assert event.aggregate_id == created["id"]
    assert event.aggregate_version == 2
    assert event.payload == {k: v for k, v in updated.items() if k != "version"}
    third = await client.patch(f"{URL}/{created['id']}", json={"kind": "eca"}, headers=ADMIN)
    assert third.json()["version"] == 3
    assert [e.aggregate_version for e in await service.events()] == [1, 2, 3]


async def test_a_provider_may_revise_its_own_record(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    created = await register(client)
    own = auth("provider", sub="atlas-staff", provider_id=created["id"])
    response = await client.patch(
        f"{URL}/{created['id']}", json={"contact": "trade@atlas.example"}, headers=own
    )
    assert response.status_code == 200, response.text
    assert response.json()["contact"] == "trade@atlas.example"
    assert response.json()["version"] == 2
    assert [e.type for e in await service.events()] == [REGISTERED, UPDATED]


async def test_another_providers_record_answers_404_and_changes_nothing(
    client: httpx.AsyncClient, service: CreditProducts
) -> None:
    created = await register(client)
    mine = await register(client, 2)
    other = auth("provider", sub="rival-staff", provider_id=mine["id"])
    response = await client.patch(f"{URL}/{created['id']}", json={"name": "Mine"}, headers=other)
    is_problem(response, 404)
    # The same answer as for a provider that does not exist: nothing is revealed.
    absent = await client.patch(f"{URL}/{uuid4()}", json={"name": "Mine"}, headers=other)
    assert is_problem(absent, 404)["type"] == response.json()["type"]
    fetched = await client.get(f"{URL}/{created['id']}", headers=ADMIN)
    assert fetched.json() == created
    assert len(await service.events()) == 2


@pytest.mark.parametrize("role", ["exporter", "advisor"])
async def test_other_roles_may_not_patch(client: httpx.AsyncClient, role: str) -> None:
    created = await register(client)
    response = await client.patch(f"{URL}/{created['id']}", json={"name": "X"}, headers=auth(role))
    is_problem(response, 403)


async def test_patching_an_absent_provider_is_a_404(client: httpx.AsyncClient) -> None:
    is_problem(await client.patch(f"{URL}/{uuid4()}", json={"name": "X"}, headers=ADMIN), 404)


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"name": "Banque Atlas 1"},
        {"regions": ["souss-massa", "casablanca-settat", "souss-massa"]},  # same set
        {"kind": "bank", "country": "MA", "contact": "export-desk-1@atlas.example"},
    ],
)
async def test_a_patch_that_changes_nothing_emits_nothing(
    client: httpx.AsyncClient, service: CreditProducts, patch: dict[str, Any]
) -> None:
    created = await register(client)
    response = await client.patch(f"{URL}/{created['id']}", json=patch, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == created
    assert [e.type for e in await service.events()] == [REGISTERED]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kind": "broker"}, "kind"),
        ({"country": "ZZ"}, "country"),
        ({"regions": ["nowhere"]}, "regions"),
        ({"name": None}, "name"),
        ({"regions": None}, "regions"),
        ({"id": str(uuid4())}, "id"),
        ({"status": "suspended"}, "status"),
        ({"version": 7}, "version"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_a_bad_patch_is_a_422_naming_the_field(
    client: httpx.AsyncClient, service: CreditProducts, patch: dict[str, Any], field: str
) -> None:
    created = await register(client)
    response = await client.patch(f"{URL}/{created['id']}", json=patch, headers=ADMIN)
    assert fields_named(is_problem(response, 422)) == {field}
    assert len(await service.events()) == 1


# ------------------------------------------------------------------ read


@pytest.mark.parametrize("role", ["exporter", "provider", "advisor", "admin"])
async def test_every_role_reads_providers(client: httpx.AsyncClient, role: str) -> None:
    created = await register(client)
    headers = auth(role, provider_id=str(uuid4()))
    one = await client.get(f"{URL}/{created['id']}", headers=headers)
    assert one.status_code == 200
    assert one.json() == created
    listed = await client.get(URL, headers=headers)
    assert listed.status_code == 200
    assert listed.json() == {"items": [created], "next_cursor": None}


async def test_reading_needs_a_token(client: httpx.AsyncClient) -> None:
    is_problem(await client.get(URL), 401)
    is_problem(await client.get(f"{URL}/{uuid4()}"), 401)


async def test_an_absent_provider_is_a_404(client: httpx.AsyncClient) -> None:
    is_problem(await client.get(f"{URL}/{uuid4()}", headers=ADMIN), 404)
    is_problem(await client.get(f"{URL}/not-a-uuid", headers=ADMIN), 422)


async def test_the_list_pages_in_a_stable_order(client: httpx.AsyncClient) -> None:
    created = [await register(client, n) for n in range(5)]
    # A revision does not move a provider in the list.
    await client.patch(f"{URL}/{created[0]['id']}", json={"name": "Renamed"}, headers=ADMIN)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(URL, params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [p["id"] for p in created]


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"cursor": "garbage"}])
async def test_bad_paging_is_a_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    is_problem(await client.get(URL, params=params, headers=ADMIN), 422)
