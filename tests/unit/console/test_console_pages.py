"""The console's pages over a fake API: sign-in, the queue, a match set and its review, the
referrals' timeline; what is forwarded to the API (the user's token, the language, the
idempotency key), and the CSRF check on every form."""

from __future__ import annotations

import jwt
from console.service_layer.session import COOKIE, CSRF_FIELD
from tasdir.settings import Settings
from unit.console.fakes import (
    GUARANTEE,
    LC,
    LOAN,
    REQUEST_ID,
    FakeApi,
    client,
    csrf_of,
    problem,
    signed_in,
)


def test_signing_in_mints_a_dev_token_and_the_api_gets_it_as_a_bearer() -> None:
    api = FakeApi()
    browser = client(api)
    page = browser.get("/sign-in")
    assert page.status_code == 200
    for role in ("exporter", "provider", "advisor", "admin"):
        assert f'value="dev-{role}"' in page.text
    answer = browser.post(
        "/sign-in", data={CSRF_FIELD: csrf_of(page.text), "principal": "dev-advisor"}
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert browser.get("/", follow_redirects=False).headers["location"] == "/queue"

    assert browser.get("/queue").status_code == 200
    bearer = api.last("/v1/match-sets").headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(bearer, Settings(environment="development").secret, algorithms=["HS256"])
    assert claims["role"] == "advisor" and claims["sub"] == "dev-advisor"
    assert "souss-massa" in claims["regions"]


def test_a_form_without_the_sessions_csrf_token_is_refused_with_a_page() -> None:
    browser = client(FakeApi())
    browser.get("/sign-in")
    for sent in ({}, {CSRF_FIELD: "forged"}):
        answer = browser.post("/sign-in", data={**sent, "principal": "dev-advisor"})
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "did not come from this console" in answer.text


def test_the_csrf_token_changes_at_sign_in() -> None:
    browser = client(FakeApi())
    before = csrf_of(browser.get("/sign-in").text)
    browser.post("/sign-in", data={CSRF_FIELD: before, "principal": "dev-advisor"})
    after = csrf_of(browser.get("/queue").text)
    assert after != before
    refused = browser.post("/sign-out", data={CSRF_FIELD: before})
    assert refused.status_code == 403


def test_a_page_needs_a_session_and_sends_the_browser_to_sign_in() -> None:
    answer = client(FakeApi()).get("/queue")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"


def test_the_queue_shows_counts_per_status_age_and_filters() -> None:
    api = FakeApi()
    browser = signed_in(api)
    page = browser.get("/queue", params={"region": "souss-massa", "status": "proposed"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The counts look at every status, the list at the one asked for.
    counted, listed = [r for r in api.sent if r.url.path == "/v1/match-sets"]
    assert counted.url.params.get("status") is None
    assert counted.url.params["region"] == listed.url.params["region"] == "souss-massa"
    assert listed.url.params["status"] == "proposed"
    assert '<span class="count">1</span> proposed' in page.text
    assert '<span class="count">1</span> approved' in page.text
    assert "6f1c0a52" in page.text and "days" in page.text
    assert '<option value="souss-massa" selected>Souss-Massa</option>' in page.text
    # Region names, in the page's language and in Arabic.
    assert "Souss-Massa" in page.text and '<span lang="ar" dir="rtl">' in page.text
    # A filter that is not a region or status is dropped, not sent.
    browser.get("/queue", params={"region": "atlantis", "status": "lost"})
    assert "region" not in api.last("/v1/match-sets").url.params


def test_a_match_set_shows_ranked_matches_bundles_as_one_line_misses_and_the_audit() -> None:
    browser = signed_in(FakeApi())
    page = browser.get(f"/match-sets/{REQUEST_ID}")
    assert page.status_code == 200
    text = page.text
    assert "Pre-export loan + Export guarantee (70 %)" in text
    assert text.index("Pre-export loan +") < text.index("LC confirmation")
    assert "eligible" in text and "conditional" in text
    assert "81.5 / 100" in text and "6.25 %" in text
    assert "amount fit" in text and "Pre-export loan: region fits" in text
    # A miss shows why it was excluded, not the rules it passed.
    assert "Turnover too small" in text and "Factoring: region fits" not in text
    assert "(1 / 9)" in text
    assert "advisor-souss" in text and "opened" in text
    assert f'value="{LOAN}"' in text and f'value="{LC}"' in text
    assert f'value="{GUARANTEE}"' not in text  # a bundle is approved with its product


def test_approving_two_matches_posts_them_with_the_version_and_the_forms_key() -> None:
    api = FakeApi()
    browser = signed_in(api)
    page = browser.get(f"/match-sets/{REQUEST_ID}").text
    form_key = page.split('name="form_key" value="', 1)[1].split('"', 1)[0]
    answer = browser.post(
        f"/match-sets/{REQUEST_ID}/review",
        data={
            CSRF_FIELD: csrf_of(page),
            "version": "3",
            "form_key": form_key,
            "product_id": [LOAN, LC],
            "decision": "approve",
            "note": "",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/match-sets/{REQUEST_ID}?done=approve"
    path = f"/v1/match-sets/{REQUEST_ID}/review"
    assert api.body(path) == {"decision": "approve", "product_ids": [LOAN, LC], "version": 3}
    assert api.last(path).headers["Idempotency-Key"] == form_key
    assert "Approved: the referrals go" in browser.get(answer.headers["location"]).text


def test_approve_all_and_reject_with_a_note() -> None:
    api = FakeApi()
    browser = signed_in(api)
    csrf = csrf_of(browser.get(f"/match-sets/{REQUEST_ID}").text)
    path = f"/v1/match-sets/{REQUEST_ID}/review"
    browser.post(
        f"/match-sets/{REQUEST_ID}/review",
        data={CSRF_FIELD: csrf, "decision": "approve-all", "product_id": LOAN},
    )
    assert api.body(path) == {"decision": "approve"}
    browser.post(
        f"/match-sets/{REQUEST_ID}/review",
        data={CSRF_FIELD: csrf, "decision": "reject", "note": " No fit ", "version": "3"},
    )
    assert api.body(path) == {"decision": "reject", "note": "No fit", "version": 3}


def test_a_refused_review_shows_the_apis_detail_at_the_apis_status() -> None:
    api = FakeApi()
    path = f"/v1/match-sets/{REQUEST_ID}/review"
    api.answers[("POST", path)] = lambda _r: problem(
        409, "the match set moved since version 3", "stale-match-set"
    )
    browser = signed_in(api)
    csrf = csrf_of(browser.get(f"/match-sets/{REQUEST_ID}").text)
    answer = browser.post(
        f"/match-sets/{REQUEST_ID}/review",
        data={CSRF_FIELD: csrf, "decision": "approve", "product_id": LOAN, "version": "3"},
    )
    assert answer.status_code == 409
    assert "the match set moved since version 3" in answer.text
    assert 'role="alert"' in answer.text and "Pre-export loan" in answer.text


def test_an_api_error_is_a_page_at_its_status_with_its_detail() -> None:
    api = FakeApi()
    browser = signed_in(api)
    other = "00000000-0000-4000-8000-00000000abcd"
    answer = browser.get(f"/match-sets/{other}")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "no such thing" in answer.text
    assert browser.get("/match-sets/not-a-uuid").status_code == 404
    assert browser.get("/nowhere").status_code == 404


def test_an_expired_token_signs_the_user_out() -> None:
    api = FakeApi()
    api.answers[("GET", "/v1/match-sets")] = lambda _r: problem(401, "expired", "unauthorized")
    browser = signed_in(api)
    answer = browser.get("/queue")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    assert browser.get("/queue").status_code == 303  # the session no longer holds the token


def test_an_unreachable_api_and_a_bug_are_pages_not_traces() -> None:
    api = FakeApi()

    def unreachable(request):  # type: ignore[no-untyped-def]
        raise __import__("httpx").ConnectError("refused", request=request)

    api.answers[("GET", "/v1/match-sets")] = unreachable
    browser = signed_in(api)
    answer = browser.get("/queue")
    assert answer.status_code == 502 and "unreachable" in answer.text

    api.answers[("GET", "/v1/match-sets")] = lambda _r: 1 / 0  # type: ignore[return-value,arg-type]
    failed = client(api, raise_errors=False)
    failed.cookies = browser.cookies
    answer = failed.get("/queue")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text and "ZeroDivisionError" not in answer.text


def test_the_referrals_timeline_of_a_request() -> None:
    api = FakeApi()
    page = signed_in(api).get(f"/requests/{REQUEST_ID}/referrals")
    assert page.status_code == 200
    assert api.last("/v1/referrals").url.params["request_id"] == REQUEST_ID
    assert "Pre-export loan" in page.text and "Your last balance sheet?" in page.text
    assert page.text.index("sent") < page.text.index("Your last balance sheet?")


def test_production_has_no_dev_sign_in_yet_and_says_so() -> None:
    browser = client(FakeApi(), environment="production", session_key="k" * 40)
    answer = browser.get("/sign-in")
    assert answer.status_code == 501
    assert "OpenID Connect" in answer.text
    assert browser.post("/sign-in", data={"principal": "dev-admin"}).status_code == 501


def test_the_dashboard_draws_the_funnel_and_the_median_first_answer() -> None:
    api = FakeApi()
    page = signed_in(api).get("/dashboard", params={"region": "souss-massa"})
    assert page.status_code == 200
    assert api.last("/v1/financing-requests").url.params["region"] == "souss-massa"
    assert '<svg class="funnel" role="img"' in page.text
    assert "requests: 10, matched: 8, referred: 5, offered: 2, closed: 1" in page.text
    # Sent at 09:05, first answered at 11:00.
    assert "2 hours" in page.text and "median over 1 answered referrals" in page.text
    french = signed_in(FakeApi()).get("/dashboard", headers={"Accept-Language": "fr"})
    assert "demandes: 10" in french.text and "médiane sur 1 mises en relation" in french.text
