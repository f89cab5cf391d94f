"""A fake of the public API for the console's unit tests: canned answers over
`httpx.MockTransport`, and every request it was sent, to check what the console forwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
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
        if path == "/v1/match-sets":
            wanted = request.url.params.get("status")
            items = [i for i in self.queue if wanted in (None, i["status"])]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == f"/v1/match-sets/{REQUEST_ID}":
            return httpx.Response(200, json=match_set())
        if path == f"/v1/match-sets/{REQUEST_ID}/review":
            return httpx.Response(200, json=match_set("approved"))
        if path == "/v1/referrals":
            listed = {"id": REFERRAL_ID, "status": "info_requested", "exporter": {"region": REGION}}
            return httpx.Response(200, json={"items": [listed], "next_cursor": None})
        if path == "/v1/financing-requests":
            items = [{"id": str(i), "status": s} for i, s in enumerate(REQUEST_STATUSES)]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == f"/v1/referrals/{REFERRAL_ID}":
            return httpx.Response(200, json=referral())
        return problem(404, "no such thing", "not-found")

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
        "exporter": {"region": REGION},
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
