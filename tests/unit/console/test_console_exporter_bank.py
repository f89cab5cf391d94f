"""The exporter's and the bank's pages over a fake API: each page and form, the API's refusals
(409, 422) shown in place at the API's status, the CSRF check, and another role's page, which
is the API's 403 as a page (the console checks no role: the API does)."""

from __future__ import annotations

import httpx
import pytest
from console.service_layer import forms
from console.service_layer.session import CSRF_FIELD
from fastapi.testclient import TestClient
from unit.console.fakes import (
    EXPORTER_ID,
    OTHER_REFERRAL,
    PROVIDER_ID,
    REFERRAL_ID,
    REQUEST_ID,
    FakeApi,
    csrf_of,
    problem,
    referral,
    signed_in,
)

CONSENTS = f"/v1/exporters/{EXPORTER_ID}/consents"


def refuse(api: FakeApi, method: str, path: str, status: int = 409) -> None:
    detail = "the API says no"
    api.answers[(method, path)] = lambda _r: problem(status, detail, "conflict")


def post(browser: TestClient, page: str, action: str, **data: object) -> httpx.Response:
    """Submit a form of `page` with the session's CSRF token."""
    csrf = csrf_of(browser.get(page).text)
    return browser.post(action, data={CSRF_FIELD: csrf, **data})


# --- navigation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "home", "shown", "hidden"),
    [
        ("exporter", "/requests", "/offers", "/queue"),
        ("provider", "/inbox", "/inbox", "/consents"),
        ("advisor", "/queue", "/dashboard", "/inbox"),
    ],
)
def test_each_role_starts_on_its_page_and_sees_only_its_pages(
    role: str, home: str, shown: str, hidden: str
) -> None:
    browser = signed_in(FakeApi(), role)
    assert browser.get("/").headers["location"] == home
    nav = browser.get(home).text.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert f'href="{shown}"' in nav and f'href="{hidden}"' not in nav


@pytest.mark.parametrize(
    ("role", "page"),
    [("advisor", "/profile"), ("provider", "/offers"), ("provider", "/consents")],
)
def test_another_roles_page_is_the_apis_403_as_a_page(role: str, page: str) -> None:
    answer = signed_in(FakeApi(), role).get(page)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "this needs the exporter role" in answer.text


def test_another_roles_form_is_the_apis_403_as_a_page() -> None:
    browser = signed_in(FakeApi(), "exporter")
    answer = post(
        browser,
        f"/referrals/{REFERRAL_ID}",
        f"/referrals/{REFERRAL_ID}/response",
        status="interested",
    )
    assert answer.status_code == 403 and "this needs the provider role" in answer.text


# --- the exporter -------------------------------------------------------------------------------


def test_the_profile_shows_the_derived_flags() -> None:
    page = signed_in(FakeApi(), "exporter").get("/profile")
    assert page.status_code == 200
    assert "Argan Coop" in page.text and "001234567000089" in page.text
    assert "75.00 %" in page.text and "yes" in page.text and "<dd>11</dd>" in page.text
    assert "12,000,000.00 MAD" in page.text


def test_my_requests_with_their_status_and_links() -> None:
    api = FakeApi()
    page = signed_in(api, "exporter").get("/requests")
    assert page.status_code == 200
    assert "1,500,000.00 MAD" in page.text and "withdrawn" in page.text
    assert 'href="/match-sets/0"' in page.text and 'href="/offers?request_id=0"' in page.text


def test_the_exporter_reads_its_matches_and_misses_without_the_review() -> None:
    page = signed_in(FakeApi(), "exporter").get(f"/match-sets/{REQUEST_ID}")
    assert page.status_code == 200
    assert "Pre-export loan + Export guarantee (70 %)" in page.text
    assert "eligible" in page.text and "6.25 %" in page.text
    assert "Turnover too small" in page.text
    assert "/review" not in page.text and "Approve all" not in page.text


def test_consents_the_access_log_and_grant_and_revoke() -> None:
    api = FakeApi()
    browser = signed_in(api, "exporter")
    page = browser.get("/consents")
    assert page.status_code == 200
    assert "Banque Atlas" in page.text and "granted" in page.text
    assert "atlas-officer" in page.text and "legal_name, ice" in page.text

    answer = post(
        browser, "/consents", "/consents", provider_id=PROVIDER_ID, expires_on="2027-01-31"
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/consents?done=granted"
    assert api.body(CONSENTS) == {
        "provider_id": PROVIDER_ID,
        "expires_at": "2027-01-31T23:59:59Z",
    }
    assert api.last(CONSENTS).headers["Idempotency-Key"]
    assert "The consent is granted" in browser.get(answer.headers["location"]).text

    answer = post(browser, "/consents", f"/consents/{PROVIDER_ID}/revoke")
    assert answer.status_code == 303
    assert api.last(f"{CONSENTS}/{PROVIDER_ID}").method == "DELETE"


def test_a_refused_consent_shows_the_apis_detail_at_its_status() -> None:
    api = FakeApi()
    refuse(api, "POST", CONSENTS, 422)
    refuse(api, "DELETE", f"{CONSENTS}/{PROVIDER_ID}", 409)
    browser = signed_in(api, "exporter")
    granted = post(browser, "/consents", "/consents", provider_id=PROVIDER_ID)
    assert granted.status_code == 422 and "the API says no" in granted.text
    assert "Banque Atlas" in granted.text  # the page again, as it is
    revoked = post(browser, "/consents", f"/consents/{PROVIDER_ID}/revoke")
    assert revoked.status_code == 409 and 'role="alert"' in revoked.text


def test_offers_side_by_side_cheapest_first_then_accept_and_decline() -> None:
    api = FakeApi()
    browser = signed_in(api, "exporter")
    page = browser.get("/offers", params={"request_id": REQUEST_ID})
    assert page.status_code == 200
    assert api.last("/v1/referrals/offers").url.params["request_id"] == REQUEST_ID
    assert page.text.index("Loan at 6.1") < page.text.index("Loan at 7.9")
    assert "Banque Atlas" in page.text and "6.10 %" in page.text

    answer = post(browser, "/offers", f"/offers/{REFERRAL_ID}/accept", request_id=REQUEST_ID)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/offers?done=accept&request_id={REQUEST_ID}"
    assert api.last(f"/v1/referrals/{REFERRAL_ID}/offer/accept").method == "POST"
    post(browser, "/offers", f"/offers/{REFERRAL_ID}/decline")
    assert api.last(f"/v1/referrals/{REFERRAL_ID}/offer/decline").method == "POST"
    assert post(browser, "/offers", f"/offers/{REFERRAL_ID}/maybe").status_code == 404


def test_an_expired_offer_refused_by_the_api_is_shown_with_the_offers() -> None:
    api = FakeApi()
    refuse(api, "POST", f"/v1/referrals/{OTHER_REFERRAL}/offer/accept")
    browser = signed_in(api, "exporter")
    answer = post(browser, "/offers", f"/offers/{OTHER_REFERRAL}/accept")
    assert answer.status_code == 409
    assert "the API says no" in answer.text and "Loan at 6.1" in answer.text


def test_the_exporter_answers_the_providers_question() -> None:
    api = FakeApi()
    browser = signed_in(api, "exporter")
    page = browser.get(f"/referrals/{REFERRAL_ID}")
    assert "Answer the bank&#39;s question" in page.text and "Your answer" in page.text
    answer = post(
        browser,
        f"/referrals/{REFERRAL_ID}",
        f"/referrals/{REFERRAL_ID}/reply",
        message=" Here it is ",
    )
    assert answer.status_code == 303
    assert api.body(f"/v1/referrals/{REFERRAL_ID}/reply") == {"message": "Here it is"}

    refuse(api, "POST", f"/v1/referrals/{REFERRAL_ID}/reply")
    again = post(
        browser, f"/referrals/{REFERRAL_ID}", f"/referrals/{REFERRAL_ID}/reply", message="x"
    )
    assert again.status_code == 409 and "the API says no" in again.text


# --- the bank -----------------------------------------------------------------------------------


def test_the_inbox_shows_what_the_api_sends_anonymised() -> None:
    api = FakeApi()
    page = signed_in(api, "provider").get("/inbox", params={"status": "info_requested"})
    assert page.status_code == 200
    assert api.last("/v1/referrals").url.params["status"] == "info_requested"
    assert "anonymised" in page.text and "Souss-Massa" in page.text and "small" in page.text
    assert f'href="/referrals/{REFERRAL_ID}"' in page.text
    signed_in(api, "provider").get("/inbox", params={"status": "lost"})
    assert "status" not in api.last("/v1/referrals").url.params


def test_a_referral_with_its_timeline_and_the_four_answers() -> None:
    page = signed_in(FakeApi(), "provider").get(f"/referrals/{REFERRAL_ID}")
    assert page.status_code == 200
    assert "Anonymised" in page.text and "Your last balance sheet?" in page.text
    for status in forms.ANSWERS:
        assert f'name="status" value="{status}"' in page.text
    for reason in forms.DECLINE_REASONS:
        assert f'<option value="{reason}">' in page.text


@pytest.mark.parametrize(
    ("sent", "body"),
    [
        ({"status": "interested", "message": ""}, {"status": "interested"}),
        (
            {"status": "info_requested", "message": "Your balance sheet?"},
            {"status": "info_requested", "message": "Your balance sheet?"},
        ),
        (
            {"status": "declined", "reason_code": "capacity", "message": ""},
            {"status": "declined", "reason_code": "capacity"},
        ),
        (
            {
                "status": "offer",
                "amount": "1500000",
                "currency": "mad",
                "rate_pct": "6,5",
                "fees_pct": "0.5",
                "tenor_days": "180",
                "valid_until": "2026-12-31",
                "binding": "on",
                "conditions": "",
                "message": "",
            },
            {
                "status": "offer",
                "terms": {
                    "amount": "1500000",
                    "currency": "MAD",
                    "rate_pct": 6.5,
                    "fees_pct": 0.5,
                    "tenor_days": 180,
                    "valid_until": "2026-12-31T23:59:59Z",
                    "binding": True,
                },
            },
        ),
    ],
)
def test_the_providers_answer_is_the_apis_body(sent: dict[str, str], body: dict) -> None:
    api = FakeApi()
    browser = signed_in(api, "provider")
    answer = post(
        browser, f"/referrals/{REFERRAL_ID}", f"/referrals/{REFERRAL_ID}/response", **sent
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/referrals/{REFERRAL_ID}?done={sent['status']}"
    assert api.body(f"/v1/referrals/{REFERRAL_ID}/response") == body
    assert forms.DONE[sent["status"]] in browser.get(answer.headers["location"]).text


def test_a_refused_answer_shows_the_apis_field_errors_in_place() -> None:
    api = FakeApi()
    path = f"/v1/referrals/{REFERRAL_ID}/response"
    api.answers[("POST", path)] = lambda _r: httpx.Response(
        422,
        json={
            "title": "invalid",
            "detail": "the offer's terms are invalid",
            "errors": [{"field": "terms.valid_until", "message": "must be in the future"}],
        },
    )
    browser = signed_in(api, "provider")
    answer = post(
        browser,
        f"/referrals/{REFERRAL_ID}",
        f"/referrals/{REFERRAL_ID}/response",
        status="offer",
        valid_until="2020-01-01",
    )
    assert answer.status_code == 422
    assert "terms.valid_until" in answer.text and "must be in the future" in answer.text
    assert "Your last balance sheet?" in answer.text


@pytest.mark.parametrize(
    "action",
    [
        "/consents",
        f"/consents/{PROVIDER_ID}/revoke",
        f"/offers/{REFERRAL_ID}/accept",
        f"/referrals/{REFERRAL_ID}/response",
        f"/referrals/{REFERRAL_ID}/reply",
    ],
)
def test_every_new_form_refuses_a_missing_or_forged_csrf_token(action: str) -> None:
    api = FakeApi()
    browser = signed_in(api, "exporter")
    before = len(api.sent)
    for sent in ({}, {CSRF_FIELD: "forged"}):
        answer = browser.post(action, data={**sent, "status": "interested"})
        assert answer.status_code == 403 and "did not come from this console" in answer.text
    assert len(api.sent) == before  # nothing reached the API


def test_form_values_the_api_checks_go_as_they_came() -> None:
    assert forms.end_of_day("tomorrow") == "tomorrow"
    assert forms.end_of_day(" ") is None
    assert forms.terms_body({"rate_pct": "abc"})["rate_pct"] == "abc"


def test_a_list_links_its_next_page_with_its_filters() -> None:
    api = FakeApi()
    api.answers[("GET", "/v1/referrals")] = lambda _r: httpx.Response(
        200, json={"items": [referral()], "next_cursor": "abc=="}
    )
    page = signed_in(api, "provider").get("/inbox", params={"status": "sent"})
    assert 'href="/inbox?cursor=abc%3D%3D&amp;status=sent"' in page.text
