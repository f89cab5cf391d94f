"""A fake of the public API for the console's unit tests: canned answers over
`httpx.MockTransport`, and every request it was sent, to check what the console forwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from console.bootstrap import create_app
from console.config import ConsoleSettings
from console.service_layer.session import CSRF_FIELD
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tasdir.settings import Settings

REQUEST_ID = "6f1c0a52-34d4-4c39-9a0e-8f5f6a0b1c11"
LOAN = "11111111-1111-4111-8111-111111111111"
LC = "22222222-2222-4222-8222-222222222222"
GUARANTEE = "33333333-3333-4333-8333-333333333333"
MISS = "44444444-4444-4444-8444-444444444444"
REFERRAL_ID = "55555555-5555-4555-8555-555555555555"
REGION = "souss-massa"
EXPORTER_ID = "77777777-7777-4777-8777-777777777777"
PROVIDER_ID = "99999999-9999-4999-8999-999999999999"
OTHER_REFERRAL = "66666666-6666-4666-8666-666666666666"
#: The routes only one role may call; another role gets the API's 403.
ONLY: dict[str, str] = {
    "/v1/exporters/me": "exporter",
    "/v1/referrals/offers": "exporter",
    "/v1/referrals/access-log": "exporter",
    "/reply": "exporter",
    "/offer/accept": "exporter",
    "/offer/decline": "exporter",
    "/consents": "exporter",
    "/response": "provider",
}
# Ten requests of a region: 8 reached matching, 5 were referred, 2 offered, 1 closed.
REQUEST_STATUSES = (
    "submitted",
    "matched",
    "in_review",
    "rejected",
    "referred",
    "referred",
    "declined",
    "offered",
    "closed",
    "withdrawn",
)


def match(product_id: str, name: str, tier: str, score: float, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "product_version": 1,
        "provider_id": "99999999-9999-4999-8999-999999999999",
        "instrument": "pre_export_loan",
        "name": {"en": name, "fr": f"{name} (fr)"},
        "tier": tier,
        "score": score,
        "score_components": {"cost": 0.8, "amount_fit": 0.5, "speed": 0.7, "cover": 0.0},
        "all_in_cost_pct": 6.25,
        "missing": [],
        "bundle": [],
        "reasons": [{"code": "region", "status": "passed", "message": f"{name}: region fits"}],
        "new_since_review": False,
        **extra,
    }


def match_set(status: str = "in_review", audit: list[dict[str, Any]] | None = None) -> dict:
    guarantee = {
        "product_id": GUARANTEE,
        "name": {"en": "Export guarantee", "fr": "Garantie export"},
        "role": "guarantee",
        "cover_pct": 70.0,
    }
    return {
        "request_id": REQUEST_ID,
        "exporter_id": "77777777-7777-4777-8777-777777777777",
        "region": "souss-massa",
        "status": status,
        "version": 3,
        "computed_at": "2026-11-27T10:00:00Z",
        "catalogue_seq": 12,
        "fx_as_of": "2026-11-01",
        "language": "en",
        "matches": [
            match(LOAN, "Pre-export loan", "eligible", 81.5, bundle=[guarantee]),
            match(LC, "LC confirmation", "conditional", 64.0),
        ],
        "excluded": [
            {
                "product_id": MISS,
                "name": {"en": "Factoring", "fr": "Affacturage"},
                "instrument": "factoring",
                "failed": ["turnover"],
                "missing": [],
                "reasons": [
                    {"code": "region", "status": "passed", "message": "Factoring: region fits"},
                    {"code": "turnover", "status": "failed", "message": "Turnover too small"},
                ],
            }
        ],
        "excluded_total": 9,
        "audit": audit
        or [
            {
                "id": "88888888-8888-4888-8888-888888888888",
                "action": "opened",
                "actor": "advisor-souss",
                "actor_role": "advisor",
                "match_set_version": 2,
                "product_ids": [],
                "note": None,
                "at": "2026-11-28T09:00:00Z",
            }
        ],
    }


def queue_item(request_id: str, status: str) -> dict[str, Any]:
    return {**match_set(status), "request_id": request_id, "audit": None}


Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, detail: str, kind: str = "conflict") -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": f"https://tasdir.example/problems/{kind}", "title": kind, "detail": detail},
        headers={"content-type": "application/problem+json"},
    )


def role_of(request: httpx.Request) -> str | None:
    """The role of the bearer token (a test's own token may be no JWT: no role then)."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    return str(claims.get("role"))


@dataclass
class FakeApi:
    """Routes by method and path; `answers` overrides one route with a handler."""

    sent: list[httpx.Request] = field(default_factory=list)
    answers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    queue: list[dict[str, Any]] = field(
        default_factory=lambda: [
            queue_item(REQUEST_ID, "in_review"),
            queue_item("6f1c0a52-34d4-4c39-9a0e-8f5f6a0b1c12", "proposed"),
            queue_item("6f1c0a52-34d4-4c39-9a0e-8f5f6a0b1c13", "approved"),
        ]
    )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        override = self.answers.get((request.method, request.url.path))
        if override is not None:
            return override(request)
        path = request.url.path
        role = role_of(request)
        wanted_role = next((r for p, r in ONLY.items() if p in path), role)
        if role not in (wanted_role, "admin", None):
            return problem(403, f"this needs the {wanted_role} role", "forbidden")
        found = self.exporter_side(request) or self.provider_side(request)
        if found is not None:
            return found
        if path == "/v1/match-sets":
            wanted = request.url.params.get("status")
            items = [i for i in self.queue if wanted in (None, i["status"])]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == f"/v1/match-sets/{REQUEST_ID}":
            return httpx.Response(200, json=match_set())
        if path == f"/v1/match-sets/{REQUEST_ID}/review":
            return httpx.Response(200, json=match_set("approved"))
        if path == "/v1/referrals":
            listed = {**referral(), "timeline": None}
            return httpx.Response(200, json={"items": [listed], "next_cursor": None})
        if path == "/v1/financing-requests":
            items = [financing_request(str(i), s) for i, s in enumerate(REQUEST_STATUSES)]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == f"/v1/referrals/{REFERRAL_ID}":
            return httpx.Response(200, json=referral())
        return problem(404, "no such thing", "not-found")

    def exporter_side(self, request: httpx.Request) -> httpx.Response | None:
        """The exporter's profile, consents, access log and offers; the providers' names."""
        path = request.url.path
        consents = f"/v1/exporters/{EXPORTER_ID}/consents"
        listed: dict[str, list[dict[str, Any]]] = {
            consents: [consent()],
            "/v1/providers": [{"id": PROVIDER_ID, "name": "Banque Atlas"}],
            "/v1/referrals/access-log": [access_entry()],
            "/v1/referrals/offers": [offer_line(REFERRAL_ID, 7.9), offer_line(OTHER_REFERRAL, 6.1)],
        }
        if request.method == "GET" and path in listed:
            return httpx.Response(200, json={"items": listed[path], "next_cursor": None})
        if path == "/v1/exporters/me":
            return httpx.Response(200, json=exporter())
        if path == consents and request.method == "POST":
            return httpx.Response(201, json=consent())
        if path == f"{consents}/{PROVIDER_ID}" and request.method == "DELETE":
            return httpx.Response(200, json=consent("revoked"))
        return None

    def provider_side(self, request: httpx.Request) -> httpx.Response | None:
        """The writes on a referral: a provider's answer, an exporter's reply or decision."""
        path = request.url.path
        writes = ("/response", "/reply", "/offer/accept", "/offer/decline")
        if path.startswith(f"/v1/referrals/{REFERRAL_ID}/") and path.endswith(writes):
            return httpx.Response(200, json=referral())
        return None

    def last(self, path: str) -> httpx.Request:
        return next(r for r in reversed(self.sent) if r.url.path == path)

    def body(self, path: str) -> Any:
        return json.loads(self.last(path).content)


def referral() -> dict[str, Any]:
    return {
        "id": REFERRAL_ID,
        "request_id": REQUEST_ID,
        "product_name": {"en": "Pre-export loan", "fr": "Préfinancement"},
        "status": "info_requested",
        "offer": None,
        "sent_at": "2026-11-28T09:05:00Z",
        "version": 2,
        "match": {"tier": "eligible", "score": 81.5, "all_in_cost_pct": 6.25},
        "bundle": [],
        "request": {
            "instrument": "pre_export_loan",
            "amount": "1500000",
            "currency": "MAD",
            "tenor_days": 180,
            "destination": "FR",
            "hs_codes": ["151590"],
        },
        "reply": None,
        "exporter": {
            "anonymised": True,
            "region": REGION,
            "size_band": "small",
            "hs_chapters": ["15"],
            "identity": None,
            "buyer": None,
        },
        "timeline": [
            {"kind": "sent", "actor_role": "system", "detail": {}, "at": "2026-11-28T09:05:00Z"},
            {
                "kind": "response",
                "actor_role": "provider",
                "detail": {"status": "info_requested", "message": "Your last balance sheet?"},
                "at": "2026-11-28T11:00:00Z",
            },
        ],
    }


def financing_request(request_id: str, status: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "status": status,
        "instrument": "pre_export_loan",
        "amount": "1500000.00",
        "currency": "MAD",
        "tenor_days": 180,
        "destination": "FR",
        "region": REGION,
    }


def exporter() -> dict[str, Any]:
    return {
        "id": EXPORTER_ID,
        "org": "argan-coop",
        "status": "active",
        "legal_name": "Argan Coop",
        "ice": "001234567000089",
        "region": REGION,
        "legal_form": "SARL",
        "founded_year": 2009,
        "exporting_since": 2015,
        "employees": 42,
        "annual_turnover_mad": "12000000.00",
        "export_turnover_mad": "9000000.00",
        "exports": [{"hs_code": "151590", "destination": "FR", "share_pct": 100.0}],
        "audited_accounts": True,
        "collateral_available_mad": None,
        "export_share_pct": 75.0,
        "is_mono_market": True,
        "is_mono_product": True,
        "years_exporting": 11,
        "version": 2,
    }


def consent(status: str = "granted") -> dict[str, Any]:
    return {
        "id": "12121212-1212-4212-8212-121212121212",
        "exporter_id": EXPORTER_ID,
        "provider_id": PROVIDER_ID,
        "status": status,
        "granted_at": "2026-11-28T09:00:00Z",
        "expires_at": None,
        "revoked_at": "2026-11-29T09:00:00Z" if status == "revoked" else None,
        "version": 1,
    }


def access_entry() -> dict[str, Any]:
    return {
        "id": 1,
        "exporter_id": EXPORTER_ID,
        "referral_id": REFERRAL_ID,
        "provider_id": PROVIDER_ID,
        "viewer": "atlas-officer",
        "viewer_role": "provider",
        "fields": ["legal_name", "ice"],
        "at": "2026-11-29T08:00:00Z",
    }


def offer_line(referral_id: str, cost: float) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "request_id": REQUEST_ID,
        "provider_id": PROVIDER_ID,
        "product_id": LOAN,
        "product_name": {"en": f"Loan at {cost}", "fr": f"Prêt à {cost}"},
        "offer": {
            "amount": "1500000.0000",
            "currency": "MAD",
            "rate_pct": cost - 1,
            "fees_pct": 0.5,
            "tenor_days": 180,
            "all_in_cost_pct": cost,
            "conditions": None,
            "valid_until": "2026-12-31T23:59:59Z",
            "binding": True,
            "decision": None,
            "decided_at": None,
            "expired": False,
        },
    }


def console_settings(**overrides: Any) -> ConsoleSettings:
    values: dict[str, Any] = {"environment": "development", "api_url": "http://api.test"}
    return ConsoleSettings(**{**values, **overrides})


def make_app(api: FakeApi, **overrides: Any) -> FastAPI:
    return create_app(
        console_settings(**overrides),
        transport=httpx.MockTransport(api),
        token_settings=Settings(environment="development"),
    )


def client(api: FakeApi, *, raise_errors: bool = True, **overrides: Any) -> TestClient:
    return TestClient(
        make_app(api, **overrides), follow_redirects=False, raise_server_exceptions=raise_errors
    )


def csrf_of(page: str) -> str:
    marker = f'name="{CSRF_FIELD}" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def signed_in(api: FakeApi, role: str = "advisor", **overrides: Any) -> TestClient:
    browser = client(api, **overrides)
    page = browser.get("/sign-in")
    answer = browser.post(
        "/sign-in", data={CSRF_FIELD: csrf_of(page.text), "principal": f"dev-{role}"}
    )
    assert answer.status_code == 303, answer.text
    return browser
