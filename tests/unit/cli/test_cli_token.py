"""`tasdir token` and `make token`: one JWT on stdout, accepted by the services."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr
from support.cli import run_tasdir
from tasdir.auth import Principal, TokenVerifier
from tasdir.settings import DEV_JWT_SECRET, Settings
from tasdir_cli.devtoken import DEFAULT_ADVISOR_REGIONS, dev_identity
from tasdir_cli.main import app
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]
JWT_LINE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$")
OWN_SECRET = "a-production-secret-of-our-own-0123456789"


@pytest.fixture(autouse=True)
def development(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASDIR_JWT_SECRET", "TASDIR_JWT_JWKS_URL", "TASDIR_JWT_ISSUER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TASDIR_JWT_AUDIENCE", raising=False)
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "development")


def verify(token: str, settings: Settings | None = None) -> Principal:
    verifier = TokenVerifier(settings or Settings(environment="development"))
    return asyncio.run(verifier.verify(token))


def token(*args: str) -> str:
    result = CliRunner().invoke(app, ["token", *args])
    assert result.exit_code == 0, result.output
    assert JWT_LINE.match(result.stdout), f"stdout is not exactly one JWT line: {result.stdout!r}"
    assert result.stderr == ""
    return result.stdout.strip()


def test_an_exporter_token_is_one_line_accepted_with_the_dev_secret() -> None:
    principal = verify(token("--role", "exporter"))
    assert principal.role == "exporter"
    assert principal.sub == "dev-exporter"
    assert principal.org == "dev-exporter"
    assert Settings(environment="development").secret == DEV_JWT_SECRET


def test_sub_and_org_are_carried() -> None:
    principal = verify(token("--role", "exporter", "--sub", "amina", "--org", "acme"))
    assert (principal.sub, principal.org) == ("amina", "acme")


def test_a_provider_token_without_a_provider_gets_a_generated_provider_id() -> None:
    first = verify(token("--role", "provider"))
    second = verify(token("--role", "provider"))
    assert isinstance(first.provider_id, UUID) and isinstance(second.provider_id, UUID)
    assert first.provider_id != second.provider_id


def test_a_provider_token_carries_the_given_provider() -> None:
    provider = uuid4()
    assert verify(token("--role", "provider", "--provider", str(provider))).provider_id == (
        provider
    )


def test_an_advisor_gets_two_regions_by_default_or_the_given_ones() -> None:
    assert verify(token("--role", "advisor")).regions == DEFAULT_ADVISOR_REGIONS
    chosen = verify(token("--role", "advisor", "--regions", "oriental, fes-meknes"))
    assert chosen.regions == ("oriental", "fes-meknes")


def test_an_admin_token() -> None:
    assert verify(token("--role", "admin")).role == "admin"


def test_the_lifetime_is_the_ttl() -> None:
    import jwt

    minted = token("--role", "admin", "--ttl", "60")
    claims = jwt.decode(minted, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


def test_every_dev_identity_makes_a_token_the_services_accept() -> None:
    """The defaults follow the services' rules: an advisor has regions, a provider a UUID."""
    for role in ("exporter", "provider", "advisor", "admin"):
        assert verify(token("--role", role)).role == role
    assert dev_identity("advisor").regions == DEFAULT_ADVISOR_REGIONS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "banker"], "unknown role 'banker'"),
        (["--role", "advisor", "--regions", "atlantis"], "unknown region(s) atlantis"),
        (["--role", "provider", "--provider", "bank-1"], "must be a UUID, not 'bank-1'"),
        (["--role", "exporter", "--ttl", "0"], "'--ttl': must be positive"),
        ([], "--role"),
    ],
)
def test_bad_input_is_a_clear_error_on_stderr_and_nothing_on_stdout(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["token", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_production_refuses_the_dev_secret_and_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "production")
    result = CliRunner().invoke(app, ["token", "--role", "admin"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "TASDIR_ENVIRONMENT=development" in result.stderr
    assert "TASDIR_JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_signs_with_its_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "production")
    monkeypatch.setenv("TASDIR_JWT_SECRET", OWN_SECRET)
    own = Settings(environment="production", jwt_secret=SecretStr(OWN_SECRET))
    assert verify(token("--role", "exporter"), own).role == "exporter"


def test_with_only_a_jwks_url_there_is_no_secret_to_sign_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "production")
    monkeypatch.setenv("TASDIR_JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")
    result = CliRunner().invoke(app, ["token", "--role", "admin"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "TASDIR_JWT_SECRET" in result.stderr


def _clean_env(**extra: str) -> dict[str, str]:
    # Outside a recursive make: MAKELEVEL would make the child make print its directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "TASDIR_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return {**env, **extra}


def test_the_installed_command_prints_only_the_jwt() -> None:
    script = Path(sys.executable).parent / "tasdir"
    assert script.exists(), "the tasdir script is not installed in the virtualenv"
    result = subprocess.run(
        [str(script), "token", "--role", "provider"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(TASDIR_ENVIRONMENT="development"),
        check=True,
    )
    assert JWT_LINE.match(result.stdout), result.stdout
    assert verify(result.stdout.strip()).role == "provider"


def test_python_dash_m_tasdir_cli_is_the_same_tool() -> None:
    result = run_tasdir("token", "--role", "admin", env={"TASDIR_ENVIRONMENT": "development"})
    assert result.returncode == 0, result.stderr
    assert JWT_LINE.match(result.stdout), result.stdout


def test_the_tool_without_an_environment_is_in_production_and_says_what_to_set() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tasdir_cli", "token", "--role", "admin"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "TASDIR_ENVIRONMENT=development" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_token_prints_only_the_jwt() -> None:
    # No TASDIR_ENVIRONMENT here: the make target runs the development configuration.
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


def test_make_token_carries_a_provider_and_an_org() -> None:
    provider = uuid4()
    result = subprocess.run(
        ["make", "token", "ROLE=provider", f"PROVIDER={provider}", "ORG=banque-du-detroit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    principal = verify(result.stdout.strip())
    assert (principal.provider_id, principal.org) == (provider, "banque-du-detroit")


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
