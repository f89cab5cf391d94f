"""Where the console is served: at /console in the embedded system (with the demo accounts on
its dev sign-in), and as its own process under `make stack`, with each service's routes sent
to that service's port."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from tasdir.settings import Settings
from tasdir_cli.embedded import CONSOLE_PATH, build_app, console_principals
from tasdir_cli.stack import (
    CONSOLE,
    CONSOLE_PORT_VARIABLE,
    StackOptions,
    console_env,
    console_port_from_env,
)

SETTINGS = Settings(environment="development")
PORTS = {"exporters": 9001, "credit_products": 9002, "matching": 9003}


async def test_the_embedded_system_serves_the_console_at_its_path(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS, seeders=[], definitions=[], demo=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
        page = await client.get(f"{CONSOLE_PATH}/sign-in")
        css = await client.get(f"{CONSOLE_PATH}/static/htmx.min.js")
        bare = await client.get(CONSOLE_PATH)
    assert page.status_code == 200 and css.status_code == 200
    assert bare.status_code == 308 and bare.headers["location"] == "/console/"
    assert 'action="/console/sign-in"' in page.text
    assert "demo-advisor-souss-massa" in page.text and "dev-provider" in page.text
    assert app.state.system.console_off is None


def test_outside_development_without_a_session_key_the_embedded_console_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASDIR_CONSOLE_SESSION_KEY", raising=False)
    production = Settings(environment="production", jwt_secret="p" * 40)
    app = build_app(tmp_path, production, seeders=[], definitions=[])
    assert "TASDIR_CONSOLE_SESSION_KEY" in (app.state.system.console_off or "")
    assert not any(getattr(r, "path", "") == CONSOLE_PATH for r in app.routes)


def test_the_demo_accounts_come_first_with_an_advisor_per_region() -> None:
    listed = console_principals(demo=True)()
    assert listed[0].key == "demo-exporter" and "mono-market" in listed[0].label
    advisors = [p for p in listed if p.key.startswith("demo-advisor-")]
    assert len(advisors) == 12 and all(len(p.regions) == 1 for p in advisors)
    assert advisors[0].key == "demo-advisor-souss-massa"  # the guided exporter's region
    assert listed[len(advisors) + 1].key == "demo-admin"
    claims = jwt.decode(listed[0].token(SETTINGS), SETTINGS.secret, algorithms=["HS256"])
    assert claims["role"] == "exporter" and claims["org"]
    assert [p.key for p in console_principals(demo=False)()] == [
        "dev-exporter",
        "dev-provider",
        "dev-advisor",
        "dev-admin",
    ]


def test_the_demo_bank_is_listed_once_the_data_set_has_loaded() -> None:
    from tasdir_cli.demo.generator import generate

    bank = generate().walkthrough.bank
    known: dict[str, str] = {}
    principals = console_principals(demo=True, provider_ids=lambda: known)
    assert not [p for p in principals() if p.role == "provider" and p.key.startswith("demo")]
    known[bank] = "0b7c5e4e-4a4c-4d8e-9a37-6f1d2b1c9e10"
    banks = [p for p in principals() if p.key.startswith("demo-bank")]
    assert len(banks) == 1
    claims = jwt.decode(banks[0].token(SETTINGS), SETTINGS.secret, algorithms=["HS256"])
    assert claims["role"] == "provider" and claims["provider_id"] == known[bank]


def test_under_the_stack_the_console_sends_each_route_to_its_service() -> None:
    options = StackOptions(ports=PORTS, console_port=9010)
    assert options.ready_ports() == {**PORTS, CONSOLE: 9010}
    env = console_env(options, {"TASDIR_ENVIRONMENT": "development"})
    assert env["TASDIR_CONSOLE_API_URL"] == "http://127.0.0.1:9001"
    routes = dict(item.split("=", 1) for item in env["TASDIR_CONSOLE_API_ROUTES"].split(","))
    assert routes["/v1/match-sets"] == routes["/v1/referrals"] == "http://127.0.0.1:9003"
    assert routes["/v1/products"] == "http://127.0.0.1:9002"
    assert routes["/v1/exporters"] == "http://127.0.0.1:9001"


def test_the_stacks_console_port_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONSOLE_PORT_VARIABLE, raising=False)
    assert console_port_from_env() is None
    assert StackOptions(ports=PORTS).ready_ports() == PORTS
    monkeypatch.setenv(CONSOLE_PORT_VARIABLE, "8010")
    assert StackOptions(ports=PORTS).console_port == 8010
    monkeypatch.setenv(CONSOLE_PORT_VARIABLE, "port")
    assert console_port_from_env() is None
