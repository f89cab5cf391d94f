"""The hand-worked catalogue: one exporter, one request and eight products, each with the outcome
worked out by hand below. The embedded system (SQLite, in-process bus) and the stack's parts
(PostgreSQL, RabbitMQ) both run it through the public APIs.

The exporter: Souss-Massa, exporting since 2019, 120 employees, audited accounts, 2,500,000.50
MAD of collateral, mostly citrus to France (so a mono-market exporter).
The request: pre-shipment finance of 2,500,000 MAD over 180 days, HS 0805 (citrus) to Côte
d'Ivoire (an AfCFTA member, so a strategic destination), paid by letter of credit.

Each product, and its outcome:
- `eligible`: MAD 500k to 20M, 30 to 360 days, HS 01-24, AfCFTA, 5.5% plus 0.5% fees, decided in
  10 days. Eligible.
- `bundled`: the same, with `requires_guarantee`. Conditional, bundled with `guarantee`.
- `guarantee`: an export-credit guarantee of 70% for pre-export loans of the bank, 1% premium.
  Never listed: not asked for, only bundled.
- `small`: `eligible` up to 2,000,000 MAD. Excluded for `amount_max`.
- `europe`: `eligible`, for Europe only. Excluded for `destinations_include`.
- `textile`: `eligible`, HS chapters 61 and 62 only. Excluded for `hs_chapters_include`.
- `seasoned`: `eligible`, for 10 years of exporting or more. Excluded for `min_years_exporting`.
- `draft`: never published. Absent.
- `withdrawn`: published, then withdrawn. Absent.

The all-in costs: `eligible` 5.5 + 0.5 * 365 / 180 = 6.5139, so 6.51; `bundled` 5.5 + (0.5 + 1.0)
* 365 / 180 = 8.5417, so 8.54.

The scores, with the default weights (cost 35, amount fit 15, speed 15, cover 20, strategic 15)
and the 20% penalty of a conditional match:
- `eligible`: cost 1 - 6.51 / 20 = 0.6745; amount fit 2.5M / 20M = 0.125; speed 1 - 10 / 90 =
  0.8889; cover 0; strategic 1. 35 * 0.6745 + 15 * 0.125 + 15 * 0.8889 + 20 * 0 + 15 * 1 = 53.816,
  so 53.82.
- `bundled`: cost 1 - 8.54 / 20 = 0.573; amount fit 0.125; speed 0.8889; cover 0.7 (the
  guarantee's); strategic 1. (35 * 0.573 + 15 * 0.125 + 15 * 0.8889 + 20 * 0.7 + 15 * 1) * 0.8 =
  64.2635 * 0.8 = 51.4108, so 51.41.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from tasdir.settings import Settings

from support.tokens import bearer

EXPORTING_SINCE = 2019


def profile_body() -> dict[str, Any]:
    return {
        "legal_name": "Agrumes du Souss SARL",
        "ice": "002345678000091",
        "region": "souss-massa",
        "legal_form": "SARL",
        "founded_year": 2012,
        "exporting_since": EXPORTING_SINCE,
        "employees": 120,
        "annual_turnover_mad": "48000000",
        "export_turnover_mad": "36000000",
        "exports": [
            {"hs_code": "0805", "destination": "FR", "share_pct": 80},
            {"hs_code": "0805", "destination": "ES", "share_pct": 20},
        ],
        "audited_accounts": True,
        "collateral_available_mad": "2500000.50",
    }


def request_body() -> dict[str, Any]:
    return {
        "instrument": "pre_shipment",
        "amount": "2500000",
        "currency": "MAD",
        "tenor_days": 180,
        "destination": "CI",
        "hs_codes": ["0805"],
        "purpose": "new_contract",
        "payment_terms": "lc",
    }


LOAN: dict[str, Any] = {
    "description": {"fr": "Préfinancement des exportations.", "en": "Pre-export finance."},
    "instrument": "pre_export_finance",
    "currencies": ["MAD"],
    "amount_currency": "MAD",
    "amount_min": "500000",
    "amount_max": "20000000",
    "tenor_min_days": 30,
    "tenor_max_days": 360,
    "eligibility": {
        "hs_chapters_include": [f"{n:02d}" for n in range(1, 25)],
        "destinations_include": ["afcfta"],
        "max_employees": 250,
        "requires_audited_accounts": True,
    },
    "pricing": {"indicative_rate_pct": 5.5, "fees_pct": 0.5},
    "decision_days": 10,
}


def loan(key: str, *, eligibility: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(LOAN)
    body["name"] = {"fr": f"Prêt {key}", "en": f"Loan {key}"}
    body["eligibility"].update(eligibility or {})
    body.update(changes)
    return body


def guarantee(bank_id: str) -> dict[str, Any]:
    return {
        "name": {"fr": "Garantie préfinancement", "en": "Pre-export guarantee"},
        "description": {"fr": "Garantie de 70 %.", "en": "A 70% guarantee."},
        "instrument": "export_credit_guarantee",
        "currencies": ["MAD"],
        "amount_currency": "MAD",
        "cover_pct": 70,
        "covers_instruments": ["pre_export_finance"],
        "partner_provider_ids": [bank_id],
        "pricing": {"premium_pct": 1.0},
        "decision_days": 15,
    }


#: The products that are listed, with their expected tier and failing rules.
MATCHES = {"eligible": "eligible", "bundled": "conditional"}
EXCLUDED = {
    "small": ["amount_max"],
    "europe": ["destinations_include"],
    "textile": ["hs_chapters_include"],
    "seasoned": ["min_years_exporting"],
}
SCORES = {"eligible": 53.82, "bundled": 51.41}
COSTS = {"eligible": 6.51, "bundled": 8.54}
COMPONENTS = {
    "eligible": {
        "cost": 0.6745,
        "amount_fit": 0.125,
        "speed": 0.8889,
        "cover": 0.0,
        "strategic": 1.0,
    },
    "bundled": {
        "cost": 0.573,
        "amount_fit": 0.125,
        "speed": 0.8889,
        "cover": 0.7,
        "strategic": 1.0,
    },
}


@dataclass
class Catalogue:
    """What the scenario created: product ids by key, the request, the parties' tokens."""

    ids: dict[str, str]
    request_id: str
    exporter: dict[str, str]
    bank: dict[str, str]
    bank_id: str

    def key_of(self, product_id: str) -> str:
        return next((k for k, v in self.ids.items() if v == product_id), product_id)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def publish(client: httpx.AsyncClient, bank: dict[str, str], body: dict[str, Any]) -> str:
    product = ok(await client.post("/v1/products", json=body, headers=bank), 201)
    ok(await client.post(f"/v1/products/{product['id']}/publish", headers=bank))
    return str(product["id"])


async def build(
    client: httpx.AsyncClient,
    settings: Settings,
    *,
    org: str = "org-souss",
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Catalogue:
    """Create the providers, the catalogue, the exporter and the request through the APIs.
    `settle` waits for matching to have heard of what is published before the request goes in
    (the catalogue is in place first, as in the issue's example; a request first works too)."""
    admin = bearer(settings, "admin")
    bank_id = ok(
        await client.post(
            "/v1/providers",
            json={"name": "Banque du Souss", "kind": "bank", "country": "MA"},
            headers=admin,
        ),
        201,
    )["id"]
    guarantor_id = ok(
        await client.post(
            "/v1/providers",
            json={"name": "Caisse de Garantie", "kind": "guarantor", "country": "MA"},
            headers=admin,
        ),
        201,
    )["id"]
    bank = bearer(settings, "provider", provider_id=bank_id)
    guarantor = bearer(settings, "provider", provider_id=guarantor_id)
    ids = {
        "eligible": await publish(client, bank, loan("eligible")),
        "bundled": await publish(
            client, bank, loan("bundled", eligibility={"requires_guarantee": True})
        ),
        "guarantee": await publish(client, guarantor, guarantee(bank_id)),
        "small": await publish(client, bank, loan("small", amount_max="2000000")),
        "europe": await publish(
            client, bank, loan("europe", eligibility={"destinations_include": ["europe"]})
        ),
        "textile": await publish(
            client, bank, loan("textile", eligibility={"hs_chapters_include": ["61", "62"]})
        ),
        "seasoned": await publish(
            client, bank, loan("seasoned", eligibility={"min_years_exporting": 10})
        ),
        "withdrawn": await publish(client, bank, loan("withdrawn")),
    }
    ok(await client.post(f"/v1/products/{ids['withdrawn']}/withdraw", headers=bank))
    draft = ok(await client.post("/v1/products", json=loan("draft"), headers=bank), 201)
    ids["draft"] = str(draft["id"])
    if settle is not None:
        await settle()
    exporter = bearer(settings, "exporter", sub=f"{org}-user", org=org)
    ok(await client.post("/v1/exporters", json=profile_body(), headers=exporter), 201)
    request = ok(
        await client.post("/v1/financing-requests", json=request_body(), headers=exporter), 201
    )
    return Catalogue(ids, str(request["id"]), exporter, bank, bank_id)


def years_exporting(today: date | None = None) -> int:
    return (today or date.today()).year - EXPORTING_SINCE


def check(catalogue: Catalogue, match_set: dict[str, Any]) -> None:
    """The match set is the one worked out by hand in this module's docstring."""
    matches = {catalogue.key_of(m["product_id"]): m for m in match_set["matches"]}
    assert list(matches) == ["eligible", "bundled"], matches
    for key, tier in MATCHES.items():
        entry = matches[key]
        assert entry["tier"] == tier
        assert entry["score"] == SCORES[key]
        assert entry["all_in_cost_pct"] == COSTS[key]
        assert entry["score_components"] == COMPONENTS[key]
        assert entry["missing"] == []
        assert all(r["passed"] for r in entry["reasons"]), entry["reasons"]
    assert matches["eligible"]["bundle"] == []
    bundle = matches["bundled"]["bundle"]
    assert [(b["product_id"], b["role"], b["cover_pct"]) for b in bundle] == [
        (catalogue.ids["guarantee"], "guarantee", 70.0)
    ]
    statuses = {r["code"]: r["status"] for r in matches["bundled"]["reasons"]}
    assert statuses["guarantee"] == "bundled"
    assert {s for c, s in statuses.items() if c != "guarantee"} == {"passed"}
    excluded = {catalogue.key_of(m["product_id"]): m for m in match_set["excluded"]}
    assert {k: v["failed"] for k, v in excluded.items()} == EXCLUDED
    assert match_set["excluded_total"] == len(EXCLUDED)
    for entry in excluded.values():
        assert [r["status"] for r in entry["reasons"]] == ["failed"]
    listed = set(matches) | set(excluded)
    assert not listed & {"draft", "withdrawn", "guarantee"}


async def settled(
    client: httpx.AsyncClient, catalogue: Catalogue, timeout: float = 30.0, **headers: str
) -> dict[str, Any]:
    """The request's match set, once it is the hand-worked one (or the last one read, which the
    caller's `check` then fails with the difference)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    url = f"/v1/match-sets/{catalogue.request_id}"
    while True:
        response = await client.get(url, headers={**catalogue.exporter, **headers})
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            try:
                check(catalogue, body)
            except AssertionError:
                pass
            else:
                return body
        if loop.time() > deadline:
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
