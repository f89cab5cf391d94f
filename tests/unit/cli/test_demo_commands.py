"""The demo's `tasdir` commands without a running system: what they accept, how they fail, and
what their tables show."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from tasdir_cli.demo import generate
from tasdir_cli.demo.views import match_set_view, money, reference_table, requests_table
from tasdir_cli.main import app
from typer.testing import CliRunner, Result


@pytest.fixture(autouse=True)
def development(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("TASDIR_") or name in ("BASE_URL", "DEMO"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "development")
    yield


def tasdir(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rendered(renderable: object) -> str:
    console = Console(record=True, width=220, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_demo_data_prints_the_data_set_of_a_seed(tmp_path: Path) -> None:
    done = tasdir("demo", "data", "--seed", "3")
    assert done.exit_code == 0, done.output
    assert done.output == generate(3).to_json() + "\n"
    target = tmp_path / "demo.json"
    assert tasdir("demo", "data", "--output", str(target)).exit_code == 0
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written["seed"] == 212
    assert len(written["exporters"]) == 200


@pytest.mark.parametrize(
    "args",
    [
        ("requests", "list"),
        ("reference", "show", "regions"),
        ("match-sets", "show", "1ebc30a1-dd3c-40bd-905d-1e02edc5930d"),
        ("demo", "seed"),
        ("demo", "walkthrough"),
        ("demo", "accounts"),
    ],
)
def test_an_unreachable_system_ends_with_exit_code_1_and_says_so(args: tuple[str, ...]) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    done = tasdir(*args, "--base-url", base)
    assert done.exit_code == 1, done.output
    assert f"cannot reach {base}" in done.output
    assert "make run" in done.output
    assert "Traceback" not in done.output


def test_bad_arguments_are_refused_with_exit_code_2() -> None:
    assert tasdir("reference", "show", "planets").exit_code == 2
    assert tasdir("requests", "list", "--role", "pilot").exit_code == 2
    assert (
        tasdir("match-sets", "show", "x", "--role", "advisor", "--regions", "atlantis").exit_code
        == 2
    )


def test_run_takes_no_demo() -> None:
    done = tasdir("run", "--help")
    assert "--no-demo" in done.output


def test_the_match_set_view_shows_matches_reasons_misses_and_the_audit_trail() -> None:
    provider = "31c45ab8-7c0a-47f5-aff9-8aee13cc844d"
    guarantor = "1233666d-875b-4887-aff5-773019e45025"
    match_set = {
        "request_id": "1ebc30a1-dd3c-40bd-905d-1e02edc5930d",
        "region": "souss-massa",
        "status": "approved",
        "version": 1,
        "computed_at": "2026-11-30T08:02:46Z",
        "excluded_total": 1,
        "matches": [
            {
                "product_id": "378694c0-bcef-4946-9fa5-1092125a5ffe",
                "provider_id": provider,
                "instrument": "pre_export_finance",
                "name": {"en": "Guaranteed loan", "fr": "Prêt garanti"},
                "tier": "conditional",
                "score": 51.41,
                "all_in_cost_pct": 8.54,
                "missing": ["audited_accounts"],
                "bundle": [
                    {
                        "provider_id": guarantor,
                        "name": {"en": "Pre-export guarantee", "fr": "Garantie"},
                        "role": "guarantee",
                        "cover_pct": 70.0,
                    }
                ],
                "reasons": [
                    {"code": "currency", "status": "passed", "message": "currency MAD is fine"},
                    {"code": "guarantee", "status": "bundled", "message": "met by bundling"},
                    {"code": "audited_accounts", "status": "missing", "message": "not said"},
                ],
            }
        ],
        "excluded": [
            {
                "product_id": "8293b07e-0d6d-4d25-94a3-02fa689de801",
                "provider_id": provider,
                "name": {"en": "Loan small", "fr": "Prêt small"},
                "reasons": [
                    {"code": "amount_max", "status": "failed", "message": "above the maximum"}
                ],
            }
        ],
        "audit": [
            {
                "at": "2026-11-30T09:00:00Z",
                "action": "approved",
                "actor": "advisor-1",
                "actor_role": "advisor",
                "match_set_version": 1,
                "note": "Complete file.",
            }
        ],
    }
    names = {provider: "Banque du Souss", guarantor: "Caisse de Garantie"}
    text = rendered(match_set_view(match_set, names))
    for part in (
        "Guaranteed loan",
        "Banque du Souss",
        "conditional",
        "51.41",
        "8.54 %",
        "guarantee: Pre-export guarantee (Caisse de Garantie, 70 % cover)",
        "answers missing: audited_accounts",
        "pass",
        "currency MAD is fine",
        "bundled",
        "missing",
        "FAIL",
        "above the maximum",
        "advisor-1",
        "Complete file.",
    ):
        assert part in text, part
    assert "Prêt garanti" in rendered(match_set_view(match_set, names, "fr"))


def test_the_request_and_reference_tables() -> None:
    request = {
        "id": "5b0e2c4a-1f3d-4c8e-9a7b-2d6f8e1c3a90",
        "org": "demo-agrumes-tafoukt",
        "region": "souss-massa",
        "status": "closed",
        "instrument": "pre_shipment",
        "amount": "1800000.00",
        "currency": "MAD",
        "tenor_days": 150,
        "destination": "SN",
        "hs_codes": ["0805"],
    }
    text = rendered(requests_table([request]))
    assert "5b0e2c4a-1f3d-4c8e-9a7b-2d6f8e1c3a90" in text  # whole, to be copied
    assert "1,800,000 MAD" in text and "150 d" in text
    assert money("1234.50", "EUR") == "1,234.50 EUR"
    items = [
        {
            "code": "lc_confirmation",
            "name": "LC confirmation",
            "requestable": True,
            "rules": {"code": "UCP 600", "title": "ICC rules"},
            "family": "payment_security",
        }
    ]
    table = rendered(reference_table("instruments", items, "source"))
    assert "lc_confirmation" in table and "UCP 600" in table and "yes" in table
