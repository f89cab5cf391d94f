"""The console's parts on their own: its settings (secure by default), the session cookie, the
French catalogue and the language choice, the shaping of the API's JSON, and its boundaries."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from console.bootstrap import create_app
from console.config import DEV_SESSION_KEY, ConsoleSettings
from console.service_layer import i18n, views
from console.service_layer.session import Session, SessionCodec
from console.service_layer.signin import DevPrincipal
from fastapi.testclient import TestClient
from pydantic import ValidationError
from unit.console.fakes import (
    LC,
    LOAN,
    FakeApi,
    client,
    console_settings,
    csrf_of,
    match_set,
    referral,
    signed_in,
)

CONSOLE = Path(__file__).resolve().parents[3] / "services" / "console" / "src" / "console"


# --- settings -----------------------------------------------------------------------------------


def test_outside_development_the_session_key_must_be_set_and_not_the_dev_one() -> None:
    with pytest.raises(ValidationError, match="TASDIR_CONSOLE_SESSION_KEY"):
        ConsoleSettings(environment="production")
    with pytest.raises(ValidationError, match="committed dev key"):
        ConsoleSettings(environment="production", session_key=DEV_SESSION_KEY)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        ConsoleSettings(environment="production", session_key="short")
    production = ConsoleSettings(environment="production", session_key="s" * 32)
    assert production.cookie_secure is True
    development = ConsoleSettings(environment="development")
    assert development.session_key is not None
    assert development.session_key.get_secret_value() == DEV_SESSION_KEY
    assert development.cookie_secure is False


def test_the_environment_is_tasdirs_and_production_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TASDIR_ENVIRONMENT", raising=False)
    with pytest.raises(ValidationError):
        ConsoleSettings()
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "development")
    assert ConsoleSettings().development


def test_api_routes_send_each_prefix_to_its_own_base_url() -> None:
    settings = ConsoleSettings(
        environment="development",
        api_url="http://gateway/",
        api_routes="/v1/match-sets=http://m:8003, /v1/referrals=http://m:8003/,bad",
    )
    assert settings.routes() == {
        "": "http://gateway",
        "/v1/match-sets": "http://m:8003",
        "/v1/referrals": "http://m:8003",
    }


# --- the session cookie -------------------------------------------------------------------------


def test_the_session_cookie_is_encrypted_and_refused_when_tampered_with_or_old() -> None:
    codec = SessionCodec("x" * 40, ttl_seconds=60)
    session = Session().signed_in_as(
        "the-token", role="advisor", sub="a1", label="Souss", regions=("souss-massa",)
    )
    value = codec.encode(session)
    assert "the-token" not in value and "advisor" not in value
    assert codec.decode(value) == session
    assert codec.decode(value[:-4] + "AAAA") is None
    assert SessionCodec("y" * 40, ttl_seconds=60).decode(value) is None
    assert codec.decode("") is None and codec.decode(None) is None
    old = codec._fernet.encrypt_at_time(b"{}", int(time.time()) - 120)
    assert codec.decode(old.decode()) is None


def test_signing_out_keeps_only_the_language() -> None:
    session = Session(lang="fr").signed_in_as("t", role="admin", sub="s", label="l", regions=())
    out = session.signed_out()
    assert out.token is None and out.lang == "fr" and out.csrf != session.csrf


# --- languages ----------------------------------------------------------------------------------


def test_the_french_catalogue_translates_every_string() -> None:
    with (CONSOLE / "locale" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale="fr")
    with (CONSOLE / "locale" / "messages.pot").open("rb") as source:
        template = read_po(source)
    assert {m.id for m in template if m.id} == {m.id for m in catalogue if m.id}
    assert [m.id for m in catalogue if m.id and not m.string] == []
    assert i18n.gettext_of("fr")("Review queue") == "File de revue"
    assert i18n.gettext_of("en")("Review queue") == "Review queue"


def test_the_language_is_the_chosen_one_else_accept_language_else_english() -> None:
    assert i18n.choose("fr", "en-GB") == "fr"
    assert i18n.choose(None, "fr-MA,fr;q=0.9,en;q=0.5") == "fr"
    assert i18n.choose(None, "de") == "en"
    assert i18n.choose("xx", None) == "en"


def test_pages_follow_accept_language_and_the_switch_and_the_api_gets_the_language() -> None:
    api = FakeApi()
    browser = signed_in(api)
    page = browser.get("/queue", headers={"Accept-Language": "fr-MA"})
    assert '<html lang="fr">' in page.text and "File de revue" in page.text
    assert api.last("/v1/match-sets").headers["Accept-Language"] == "fr"
    switched = browser.post(
        "/language",
        data={"csrf": csrf_of(page.text), "lang": "en", "next": "/queue?status=proposed"},
        headers={"Accept-Language": "fr"},
    )
    assert switched.headers["location"] == "/queue?status=proposed"
    page = browser.get("/queue", headers={"Accept-Language": "fr"})
    assert "Review queue" in page.text
    # Never a redirect elsewhere.
    away = browser.post(
        "/language", data={"csrf": csrf_of(page.text), "lang": "fr", "next": "//evil.test/"}
    )
    assert away.headers["location"] == "/"


def test_the_sign_in_page_in_french() -> None:
    page = client(FakeApi()).get("/sign-in", headers={"Accept-Language": "fr"})
    assert "Se connecter" in page.text and "conseiller" in page.text


# --- shaping ------------------------------------------------------------------------------------


def test_a_match_is_approved_once_an_approval_of_the_audit_names_it() -> None:
    audit = [
        {"action": "opened", "product_ids": []},
        {"action": "approved", "product_ids": [LOAN]},
        {"action": "rejected", "product_ids": [LC]},
    ]
    rows = views.match_rows(match_set("approved", audit), "fr")
    assert [(r.rank, r.approved) for r in rows] == [(1, True), (2, False)]
    assert rows[0].line == "Pre-export loan (fr) + Garantie export (70 %)"


def test_a_timeline_step_says_its_status_and_message() -> None:
    steps = views.timeline(referral())
    assert [(s.kind, s.status, s.message) for s in steps] == [
        ("sent", "", ""),
        ("response", "info_requested", "Your last balance sheet?"),
    ]
    assert views.localised({"fr": "Bonjour"}, "en") == "Bonjour"
    assert views.localised(None, "en") == ""


def test_queue_counts_cover_every_status() -> None:
    counts = views.queue_counts([{"status": "proposed"}, {"status": "proposed"}], capped=True)
    assert counts.by_status == {"proposed": 2, "in_review": 0, "approved": 0, "rejected": 0}
    assert counts.total == 2 and counts.capped


def test_the_dev_sign_in_lists_what_the_composition_root_gives() -> None:
    demo = DevPrincipal(
        "demo-advisor", "Souss-Massa office", "advisor", "adv-1", lambda _s: "signed", ("x",)
    )
    api = FakeApi()
    app = create_app(
        console_settings(), transport=httpx.MockTransport(api), principals=lambda: [demo]
    )
    browser = TestClient(app)
    page = browser.get("/sign-in")
    assert "Souss-Massa office" in page.text and "dev-exporter" not in page.text
    browser.post("/sign-in", data={"csrf": csrf_of(page.text), "principal": "demo-advisor"})
    assert browser.get("/queue").status_code == 200
    assert api.last("/v1/match-sets").headers["Authorization"] == "Bearer signed"


# --- boundaries ---------------------------------------------------------------------------------


def test_the_console_imports_no_service_and_not_the_cli() -> None:
    """It calls the public API only: no other service's code, no database."""
    forbidden = {"exporters", "credit_products", "matching", "tasdir_cli", "sqlalchemy", "sqlmodel"}
    found: set[str] = set()
    for path in CONSOLE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
    assert {m.split(".")[0] for m in found} & forbidden == set()
    assert [m for m in found if m.startswith(("tasdir.db", "tasdir.service"))] == []
