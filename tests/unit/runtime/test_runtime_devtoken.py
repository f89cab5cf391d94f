"""`make token` and `python -m tasdir.devtoken`: one JWT on stdout, accepted by the services."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from tasdir.auth import Principal, TokenVerifier
from tasdir.devtoken import DEFAULT_ADVISOR_REGIONS, main
from tasdir.settings import DEV_JWT_SECRET, Settings

ROOT = Path(__file__).resolve().parents[3]
JWT_LINE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$")


@pytest.fixture(autouse=True)
def dev_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASDIR_JWT_SECRET", "TASDIR_JWT_ISSUER", "TASDIR_JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    from tasdir.settings import get_settings

    get_settings.cache_clear()


def verify(token: str) -> Principal:
    return TokenVerifier(Settings(environment="test")).verify(token)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    out = capsys.readouterr().out
    assert JWT_LINE.match(out), f"stdout is not exactly one JWT line: {out!r}"
    return out.strip()


def test_an_exporter_token_is_one_line_accepted_with_the_dev_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    principal = verify(run_cli(capsys, "--role", "exporter"))
    assert principal.role == "exporter"
    assert principal.sub == "dev-exporter"
    assert principal.org == "dev-exporter"
    assert Settings().jwt_secret == DEV_JWT_SECRET


def test_sub_and_org_are_carried(capsys: pytest.CaptureFixture[str]) -> None:
    principal = verify(run_cli(capsys, "--role", "exporter", "--sub", "amina", "--org", "acme"))
    assert (principal.sub, principal.org) == ("amina", "acme")


def test_a_provider_token_without_a_provider_gets_a_generated_provider_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = verify(run_cli(capsys, "--role", "provider"))
    second = verify(run_cli(capsys, "--role", "provider"))
    assert first.provider_id and second.provider_id
    UUID(first.provider_id)
    assert first.provider_id != second.provider_id


def test_a_provider_token_carries_the_given_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(run_cli(capsys, "--role", "provider", "--provider", "bank-1")).provider_id == (
        "bank-1"
    )


def test_an_advisor_gets_two_regions_by_default_or_the_given_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert verify(run_cli(capsys, "--role", "advisor")).regions == DEFAULT_ADVISOR_REGIONS
    chosen = verify(run_cli(capsys, "--role", "advisor", "--regions", "oriental,fes-meknes"))
    assert chosen.regions == ("oriental", "fes-meknes")


def test_an_admin_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(run_cli(capsys, "--role", "admin")).role == "admin"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "banker"], "unknown role 'banker'"),
        (["--role", "advisor", "--regions", "atlantis"], "unknown region(s) atlantis"),
        (["--role", "exporter", "--ttl", "0"], "--ttl must be positive"),
        ([], "--role"),
    ],
)
def test_bad_input_is_a_clear_error_on_stderr_and_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def _clean_env() -> dict[str, str]:
    # Outside a recursive make: MAKELEVEL would make the child make print its directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "TASDIR_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def test_the_module_prints_only_the_jwt() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tasdir.devtoken", "--role", "provider"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
        check=True,
    )
    assert JWT_LINE.match(result.stdout), result.stdout
    assert verify(result.stdout.strip()).role == "provider"


def test_make_token_prints_only_the_jwt() -> None:
    result = subprocess.run(
        ["make", "token", "ROLE=advisor", "REGIONS=souss-massa,oriental", "SUB=karim"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert JWT_LINE.match(result.stdout), f"make chatter on stdout: {result.stdout!r}"
    principal = verify(result.stdout.strip())
    assert (principal.sub, principal.regions) == ("karim", ("souss-massa", "oriental"))


def test_make_token_with_a_bad_role_fails_with_a_message() -> None:
    result = subprocess.run(
        ["make", "token", "ROLE=banker"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "unknown role 'banker'" in result.stderr
