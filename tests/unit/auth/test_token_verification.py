"""JWT verification: HS256 with the dev secret, or keys from a JWKS URL; exp always required."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tasdir.auth import Principal, TokenVerifier, issue_token
from tasdir.errors import Unauthorized
from tasdir.settings import Settings

SETTINGS = Settings(environment="test")


def hs256(claims: dict[str, Any], secret: str = SETTINGS.jwt_secret) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "u1", "role": "exporter", "exp": int(time.time()) + 60, **extra}


def test_a_dev_token_gives_its_principal() -> None:
    token = issue_token(SETTINGS, role="advisor", sub="a1", regions=("oriental", "souss-massa"))
    principal = TokenVerifier(SETTINGS).verify(token)
    assert principal == Principal(
        sub="a1", role="advisor", org="a1", regions=("oriental", "souss-massa")
    )


def test_org_defaults_to_sub_and_is_kept_when_given() -> None:
    verifier = TokenVerifier(SETTINGS)
    assert verifier.verify(hs256(claims())).org == "u1"
    assert verifier.verify(hs256(claims(org="atlas"))).org == "atlas"


@pytest.mark.parametrize(
    ("make_token", "kind"),
    [
        (lambda: "garbage", "invalid-token"),
        (lambda: hs256(claims(exp=int(time.time()) - 5)), "token-expired"),
        (
            lambda: hs256(claims(), secret="another-secret-of-enough-length-0123456789"),
            "invalid-token",
        ),
        (lambda: hs256({"sub": "u1", "role": "exporter"}), "invalid-token"),  # no exp
        (lambda: hs256(claims(role="superuser")), "unauthorized"),
        (lambda: hs256(claims(role="provider")), "unauthorized"),  # needs a provider_id
        (lambda: jwt.encode(claims(), "", algorithm="none"), "invalid-token"),
    ],
    ids=["garbage", "expired", "wrong-secret", "no-exp", "unknown-role", "provider-no-id", "none"],
)
def test_bad_tokens_are_refused(make_token: Callable[[], str], kind: str) -> None:
    # Tokens are made when the test runs: made at collection, a valid one could expire first.
    with pytest.raises(Unauthorized) as refused:
        TokenVerifier(SETTINGS).verify(make_token())
    assert refused.value.status == 401
    assert refused.value.kind == kind


def test_issuer_and_audience_are_checked_when_configured() -> None:
    settings = Settings(environment="test", jwt_issuer="https://idp.example", jwt_audience="tasdir")
    verifier = TokenVerifier(settings)
    good = issue_token(settings, role="admin", sub="root")
    assert verifier.verify(good).role == "admin"
    for wrong in (
        hs256(claims(iss="https://idp.example", aud="other")),
        hs256(claims(iss="https://elsewhere", aud="tasdir")),
        hs256(claims(aud="tasdir")),  # no iss
    ):
        with pytest.raises(Unauthorized):
            verifier.verify(wrong)


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Any]]:
    """A JWKS endpoint on loopback, as an identity provider such as Keycloak serves it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/certs", key
    server.shutdown()


def test_tokens_signed_by_the_identity_provider_are_verified_through_jwks(
    jwks_server: tuple[str, Any],
) -> None:
    url, key = jwks_server
    verifier = TokenVerifier(Settings(environment="test", jwt_jwks_url=url))
    token = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(token).sub == "u1"
    # The dev secret means nothing once a JWKS URL is configured.
    with pytest.raises(Unauthorized):
        verifier.verify(hs256(claims()))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "k1"}))


def test_production_refuses_the_dev_secret() -> None:
    with pytest.raises(ValueError, match="TASDIR_JWT_SECRET"):
        Settings(environment="production")
    Settings(environment="production", jwt_secret="a-real-secret-from-the-vault-0123456789")
