"""JWT verification: HS256 with a shared secret, or keys from a JWKS URL; exp always required;
claims parsed into a typed model; secure by default."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from tasdir.api import create_app
from tasdir.auth import (
    TOKEN_CACHE_SECONDS,
    CurrentPrincipal,
    IdentityProviderUnavailable,
    Principal,
    TokenVerifier,
    VerifiedTokens,
    issue_token,
)
from tasdir.errors import Unauthorized
from tasdir.routing import service_router
from tasdir.settings import DEV_JWT_SECRET, Settings

SETTINGS = Settings(environment="development")
PROVIDER_ID = "6f1c1a0e-7d3b-4c55-9a43-2b8f0e9d1c10"


def hs256(claims: dict[str, Any], secret: str = SETTINGS.secret) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "u1", "role": "exporter", "exp": int(time.time()) + 60, **extra}


async def test_a_dev_token_gives_its_principal() -> None:
    token = issue_token(SETTINGS, role="advisor", sub="a1", regions=("oriental", "souss-massa"))
    principal = await TokenVerifier(SETTINGS).verify(token)
    assert principal == Principal(
        sub="a1", role="advisor", org="a1", regions=("oriental", "souss-massa")
    )


async def test_org_defaults_to_sub_and_is_kept_when_given() -> None:
    verifier = TokenVerifier(SETTINGS)
    assert (await verifier.verify(hs256(claims()))).org == "u1"
    assert (await verifier.verify(hs256(claims(org="atlas")))).org == "atlas"


async def test_a_provider_id_is_a_uuid_and_regions_may_come_as_one_string() -> None:
    verifier = TokenVerifier(SETTINGS)
    provider = await verifier.verify(hs256(claims(role="provider", provider_id=PROVIDER_ID)))
    assert provider.provider_id == UUID(PROVIDER_ID)
    # An identity provider may map a multi-valued attribute to one comma-separated string.
    advisor = await verifier.verify(hs256(claims(role="advisor", regions="oriental, fes-meknes")))
    assert advisor.regions == ("oriental", "fes-meknes")


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
        (lambda: hs256(claims(role="superuser")), "invalid-token"),
        (lambda: hs256(claims(role="provider")), "invalid-token"),  # needs a provider_id
        (lambda: hs256(claims(role="advisor")), "invalid-token"),  # needs its regions
        (lambda: jwt.encode(claims(), "", algorithm="none"), "invalid-token"),
    ],
    ids=[
        "garbage",
        "expired",
        "wrong-secret",
        "no-exp",
        "unknown-role",
        "provider-no-id",
        "advisor-no-regions",
        "none",
    ],
)
async def test_bad_tokens_are_refused(make_token: Callable[[], str], kind: str) -> None:
    # Tokens are made when the test runs: made at collection, a valid one could expire first.
    with pytest.raises(Unauthorized) as refused:
        await TokenVerifier(SETTINGS).verify(make_token())
    assert refused.value.status == 401
    assert refused.value.kind == kind


ODD_CLAIMS = {
    "regions-int": {"role": "advisor", "regions": 123},
    "regions-bool": {"role": "advisor", "regions": True},
    "regions-float": {"role": "advisor", "regions": 1.5},
    "regions-of-ints": {"role": "advisor", "regions": [1, 2]},
    "regions-unknown": {"role": "advisor", "regions": ["atlantis"]},
    "org-object": {"org": {"a": 1}},
    "org-int": {"org": 7},
    "org-blank": {"org": "   "},
    "org-nul": {"org": "atlas\u0000agrumes"},
    "sub-int": {"sub": 42},
    "sub-bidi": {"sub": "a\u202eb"},
    "sub-too-long": {"sub": "x" * 200},
    "provider-id-not-uuid": {"role": "provider", "provider_id": "not-a-uuid"},
    "provider-id-int": {"role": "provider", "provider_id": 12},
    "role-list": {"role": ["admin"]},
}


@pytest.mark.parametrize("odd", list(ODD_CLAIMS.values()), ids=list(ODD_CLAIMS))
async def test_a_claim_of_the_wrong_type_is_an_invalid_token(odd: dict[str, Any]) -> None:
    with pytest.raises(Unauthorized) as refused:
        await TokenVerifier(SETTINGS).verify(hs256(claims(**odd)))
    assert refused.value.kind == "invalid-token"


async def test_issuer_and_audience_are_checked_when_configured() -> None:
    settings = Settings(
        environment="development", jwt_issuer="https://idp.example", jwt_audience="tasdir"
    )
    verifier = TokenVerifier(settings)
    good = issue_token(settings, role="admin", sub="root")
    assert (await verifier.verify(good)).role == "admin"
    for wrong in (
        hs256(claims(iss="https://idp.example", aud="other")),
        hs256(claims(iss="https://elsewhere", aud="tasdir")),
        hs256(claims(aud="tasdir")),  # no iss
    ):
        with pytest.raises(Unauthorized):
            await verifier.verify(wrong)


# ---------------------------------------------------------------- JWKS


class KeyServer:
    """A JWKS endpoint on loopback, as an identity provider such as Keycloak serves it."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.add_key("k1")

    def add_key(self, kid: str) -> Any:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[kid] = key
        return key

    def document(self) -> bytes:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return json.dumps({"keys": keys}).encode()


@pytest.fixture
def jwks() -> Iterator[tuple[str, KeyServer]]:
    served = KeyServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.fetches += 1
            body = served.document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/certs", served
    server.shutdown()


def rs256(key: Any, kid: str = "k1", **extra: Any) -> str:
    return jwt.encode(claims(**extra), key, algorithm="RS256", headers={"kid": kid})


async def test_tokens_signed_by_the_identity_provider_are_verified_through_jwks(
    jwks: tuple[str, KeyServer],
) -> None:
    url, served = jwks
    verifier = TokenVerifier(Settings(environment="development", jwt_jwks_url=url))
    assert (await verifier.verify(rs256(served.keys["k1"]))).sub == "u1"
    # The dev secret means nothing once a JWKS URL is configured.
    with pytest.raises(Unauthorized):
        await verifier.verify(hs256(claims()))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized):
        await verifier.verify(rs256(other))


async def test_the_keys_are_cached_and_fetched_again_for_an_unknown_key_id(
    jwks: tuple[str, KeyServer],
) -> None:
    url, served = jwks
    verifier = TokenVerifier(Settings(environment="development", jwt_jwks_url=url))
    for _ in range(5):
        await verifier.verify(rs256(served.keys["k1"]))
    assert served.fetches == 1
    # The identity provider rotates its keys: a token names a new key id.
    rotated = served.add_key("k2")
    assert (await verifier.verify(rs256(rotated, kid="k2"))).sub == "u1"
    assert served.fetches == 2
    with pytest.raises(Unauthorized):
        await verifier.verify(rs256(rotated, kid="k-unknown"))


async def test_concurrent_requests_share_one_fetch(jwks: tuple[str, KeyServer]) -> None:
    url, served = jwks
    verifier = TokenVerifier(Settings(environment="development", jwt_jwks_url=url))
    token = rs256(served.keys["k1"])
    principals = await asyncio.gather(*(verifier.verify(token) for _ in range(10)))
    assert {p.sub for p in principals} == {"u1"}
    assert served.fetches == 1


@pytest.fixture
async def hanging_idp() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """An identity provider that accepts the connection and never answers."""
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        connected.set()
        await asyncio.sleep(3600)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/certs", connected
    for writer in held:
        writer.close()
    server.close()


def whoami_app(settings: Settings) -> Any:
    """An app with one authenticated route."""
    app = create_app("auth", [], settings)
    router = service_router(prefix="/v1/whoami", tags=["test"])

    @router.get("")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"sub": principal.sub}

    app.include_router(router)
    return app


async def test_a_hanging_identity_provider_is_a_503_and_stalls_nothing_else(
    hanging_idp: tuple[str, asyncio.Event],
) -> None:
    url, connected = hanging_idp
    settings = Settings(environment="development", jwt_jwks_url=url, jwks_timeout_seconds=1.0)
    app = whoami_app(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {"Authorization": f"Bearer {rs256(key)}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = asyncio.create_task(client.get("/v1/whoami", headers=headers))
        await asyncio.wait_for(connected.wait(), timeout=10)
        # The identity provider holds the key fetch; other requests go on meanwhile.
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert not waiting.done(), "the health check had to wait for the identity provider"
        answer = await waiting
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/identity-provider-unavailable")
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.headers["x-correlation-id"]


async def test_an_unreachable_identity_provider_is_a_503_not_a_401() -> None:
    # A port nothing listens on: the connection is refused at once.
    settings = Settings(
        environment="development", jwt_jwks_url="http://127.0.0.1:9/certs", jwks_timeout_seconds=1
    )
    verifier = TokenVerifier(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(IdentityProviderUnavailable) as unavailable:
        await verifier.verify(rs256(key))
    assert unavailable.value.status == 503
    # Remembered for a moment: the next request does not wait for another failure.
    with pytest.raises(IdentityProviderUnavailable):
        await verifier.verify(rs256(key))


# ---------------------------------------------------------------- secure by default


def test_production_is_the_default_and_refuses_the_dev_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TASDIR_ENVIRONMENT", raising=False)
    monkeypatch.delenv("TASDIR_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="TASDIR_JWT_SECRET"):
        Settings()
    with pytest.raises(ValidationError, match="dev secret"):
        Settings(jwt_secret=DEV_JWT_SECRET)
    real = Settings(jwt_secret="a-real-secret-from-the-vault-0123456789")
    assert real.environment == "production"
    # A JWKS URL alone is enough.
    assert Settings(jwt_jwks_url="https://idp.example/certs").secret == ""


def test_development_must_be_said_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "development")
    monkeypatch.delenv("TASDIR_JWT_SECRET", raising=False)
    assert Settings().secret == DEV_JWT_SECRET


@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_short_shared_secret_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(environment=environment, jwt_secret="x" * 31)  # type: ignore[arg-type]
    Settings(environment=environment, jwt_secret="é" * 16)  # type: ignore[arg-type]  # 32 bytes


def test_a_service_started_bare_refuses_to_start_and_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASDIR_")}
    done = subprocess.run(
        [sys.executable, "-m", "exporters", "api", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "TASDIR_JWT_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_verified_token_is_remembered_until_its_exp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_000.0]
    verifier = TokenVerifier(SETTINGS, clock=lambda: now[0])
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = hs256(claims(exp=int(time.time()) + 30))
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert decoded == [token]  # the second call did not check the signature again
    # The entry never outlives TOKEN_CACHE_SECONDS, nor the token's exp.
    now[0] += TOKEN_CACHE_SECONDS
    await verifier.verify(token)
    assert decoded == [token, token]
    exp = int(time.time()) + 5
    expiring = hs256(claims(exp=exp))
    now[0] = exp - 1
    await verifier.verify(expiring)
    await verifier.verify(expiring)
    assert decoded.count(expiring) == 1
    now[0] = exp  # at its exp the token is verified afresh (and PyJWT judges it)
    await verifier.verify(expiring)
    assert decoded.count(expiring) == 2


async def test_refused_tokens_are_not_remembered_and_the_cache_is_bounded() -> None:
    cache = VerifiedTokens(size=2, max_age=60.0, clock=lambda: 0.0)
    principal = Principal(sub="u1", role="exporter", org="u1")
    for token in ("a", "b", "c"):
        cache.put(token, principal, expires=30.0)
    assert len(cache) == 2
    assert cache.get("a") is None  # the least recently used went first
    assert cache.get("c") == principal
    verifier = TokenVerifier(SETTINGS)
    bad = hs256(claims(), secret="another-secret-of-at-least-32-bytes!")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await verifier.verify(bad)
