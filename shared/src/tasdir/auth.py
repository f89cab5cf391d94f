"""JWT verification, the principal and role guards.

HS256 with a shared secret, or RS256/ES256 keys from a JWKS URL (an identity provider such as
Keycloak). `exp` is always required; `iss` and `aud` when configured.

- The claims are parsed into a typed model: a claim of the wrong type (`"regions": 123`,
  `"org": {}`, a `provider_id` that is not a UUID) is a 401 `invalid-token`, never a crash.
- The JWKS is fetched without blocking the event loop, with a timeout, cached, and fetched
  again when a token names a key id it does not know. An identity provider that cannot be
  reached is a 503, not a 401: the token may be fine.
- The principal is verified before FastAPI reads the request body (`tasdir.routing`), so an
  unauthenticated request gets 401 whatever its body holds.
- A token verified once is remembered (`VerifiedTokens`): a client sends the same token on
  every call, and checking its signature and parsing its claims each time was the largest
  single cost of an authenticated request. The entry never outlives the token's `exp`, nor
  `TOKEN_CACHE_SECONDS`; the cache is bounded; a refused token is never remembered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

import httpx
import jwt
from fastapi import Depends, Request
from jwt.types import Options
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tasdir.errors import Forbidden, Problem, Unauthorized
from tasdir.limits import rate_limiter
from tasdir.reference import is_region
from tasdir.settings import Settings
from tasdir.text import clean_text

log = logging.getLogger(__name__)

Role = Literal["exporter", "provider", "advisor", "admin"]
ROLES: tuple[Role, ...] = ("exporter", "provider", "advisor", "admin")
ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
#: How many verified tokens a process remembers, and for how long at most (seconds).
TOKEN_CACHE_SIZE = 4096
TOKEN_CACHE_SECONDS = 60.0


class IdentityProviderUnavailable(Problem):
    status = 503
    kind = "identity-provider-unavailable"


def _identifier(value: str) -> str:
    cleaned = clean_text(value)
    if len(cleaned) > 128:
        raise ValueError("longer than 128 characters")
    return cleaned


class Claims(BaseModel):
    """The claims Tasdir reads. Unknown claims are ignored; known ones must have their type."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: str
    role: Role
    org: str | None = None
    provider_id: UUID | None = None
    regions: tuple[str, ...] = Field(default=())

    @field_validator("sub", "org", mode="before")
    @classmethod
    def _strings_only(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a string")
        return value

    @field_validator("sub", "org")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)

    @field_validator("provider_id", mode="before")
    @classmethod
    def _uuid_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a UUID string")
        return value

    @field_validator("regions", mode="before")
    @classmethod
    def _region_list(cls, value: object) -> object:
        if value is None:
            return ()
        if isinstance(value, str):  # an identity provider may map one attribute to a string
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of region codes")
        return tuple(value)

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if not is_region(code)]
        if unknown:
            raise ValueError(f"unknown region codes: {', '.join(unknown[:5])}")
        return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    org: str
    provider_id: UUID | None = None
    regions: tuple[str, ...] = ()

    @classmethod
    def from_claims(cls, raw: dict[str, object]) -> Principal:
        try:
            claims = Claims.model_validate(raw)
        except ValidationError as exc:
            fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
            raise Unauthorized(
                f"invalid token: bad claims ({', '.join(fields)})", kind="invalid-token"
            ) from None
        if claims.role == "provider" and claims.provider_id is None:
            raise Unauthorized("a provider token needs a provider_id", kind="invalid-token")
        if claims.role == "advisor" and not claims.regions:
            raise Unauthorized("an advisor token needs its regions", kind="invalid-token")
        return cls(
            sub=claims.sub,
            role=claims.role,
            org=claims.org or claims.sub,
            provider_id=claims.provider_id,
            regions=claims.regions,
        )


class JwksKeys:
    """The signing keys of an identity provider, fetched asynchronously and cached.

    Concurrent requests share one fetch. A failed fetch is remembered for a few seconds, so a
    hanging identity provider costs one timeout, not one per request.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        cache_seconds: float,
        failure_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.failure_backoff = failure_backoff
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._fetching: asyncio.Task[None] | None = None

    def _fresh(self) -> bool:
        return self._fetched_at is not None and (
            self._clock() - self._fetched_at < self.cache_seconds
        )

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            self._failed_at = self._clock()
            log.warning("identity provider keys unavailable from %s: %s", self.url, exc)
            raise IdentityProviderUnavailable(
                "the identity provider's keys cannot be fetched; retry shortly",
                headers={"Retry-After": str(int(self.failure_backoff) or 1)},
            ) from None
        self._keys = {key.key_id or "": key for key in key_set.keys}
        self._fetched_at = self._clock()
        self._failed_at = None

    async def _refresh(self) -> None:
        if self._failed_at is not None and self._clock() - self._failed_at < self.failure_backoff:
            raise IdentityProviderUnavailable(
                "the identity provider's keys cannot be fetched; retry shortly",
                headers={"Retry-After": str(int(self.failure_backoff) or 1)},
            )
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.create_task(self._fetch(), name="jwks-fetch")
        # Shielded: one caller giving up must not cancel the fetch the others wait on.
        await asyncio.shield(self._fetching)

    async def key(self, kid: str | None) -> jwt.PyJWK:
        if not self._fresh() or (kid is not None and kid not in self._keys):
            await self._refresh()
        if kid is None:
            if len(self._keys) == 1:
                return next(iter(self._keys.values()))
            raise Unauthorized("invalid token: no key id", kind="invalid-token")
        found = self._keys.get(kid)
        if found is None:
            raise Unauthorized("invalid token: unknown key id", kind="invalid-token")
        return found


class VerifiedTokens:
    """The principals of the tokens this process verified lately, least recently used first.

    An entry lasts until the token's `exp` or `max_age` seconds, whichever comes first (so a
    key withdrawn from the identity provider stops being honoured soon after), and the oldest
    entries go once there are `size` of them.
    """

    def __init__(
        self,
        *,
        size: int = TOKEN_CACHE_SIZE,
        max_age: float = TOKEN_CACHE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size = size
        self.max_age = max_age
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        until, principal = entry
        if self._clock() >= until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, expires: float) -> None:
        self._entries[token] = (min(expires, self._clock() + self.max_age), principal)
        self._entries.move_to_end(token)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class TokenVerifier:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self._verified = VerifiedTokens(clock=clock)
        self._secret = settings.secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._jwks = (
            JwksKeys(
                settings.jwt_jwks_url,
                timeout=settings.jwks_timeout_seconds,
                cache_seconds=settings.jwks_cache_seconds,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def _key(self, token: str) -> tuple[Any, list[str]]:
        if self._jwks is None:
            return self._secret, ["HS256"]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}", kind="invalid-token") from None
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthorized("invalid token: bad key id", kind="invalid-token")
        key = await self._jwks.key(kid)
        return key.key, ASYMMETRIC

    async def verify(self, token: str) -> Principal:
        """The principal of `token`: remembered if it was verified lately, else verified."""
        known = self._verified.get(token)
        if known is not None:
            return known
        principal, expires = await self._verify(token)
        self._verified.put(token, principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, int]:
        """Check the signature and the claims; the principal and the token's `exp`."""
        required = ["exp", "sub"]
        options: Options = {"require": required}
        if self._issuer:
            required.append("iss")
        if not self._audience:
            options["verify_aud"] = False
        key, algorithms = await self._key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", kind="token-expired") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized(f"invalid token: {exc}", kind="invalid-token") from None
        if not isinstance(claims, dict):
            raise Unauthorized("invalid token: claims are not an object", kind="invalid-token")
        # PyJWT checked that `exp` is a number in the future.
        return Principal.from_claims(claims), int(claims["exp"])


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("a bearer token is required", kind="missing-token")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required", kind="missing-token")
    return token


async def authenticate(request: Request) -> Principal:
    """Verify the request's token once, count it against its principal's rate limit, and keep
    the principal on `request.state`. The route class calls this before the body is read."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(_bearer_token(request))
    request.state.principal = principal
    limiter = rate_limiter(request)
    if limiter is not None:
        await limiter.hit(principal.sub)
    return principal


async def current_principal(request: Request) -> Principal:
    """The verified principal of the request (401 without a valid token; 429 past its rate)."""
    return await authenticate(request)


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """403 for a role that may never use the route; ownership is checked later (404)."""

    async def guard(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role!r} may not use this route")
        return principal

    guard.roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI documentation
    return guard


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def issue_token(
    settings: Settings,
    *,
    role: Role,
    sub: str,
    org: str | None = None,
    provider_id: UUID | str | None = None,
    regions: tuple[str, ...] = (),
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A token signed with the shared secret (development and tests)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds}
    if org:
        claims["org"] = org
    if provider_id:
        claims["provider_id"] = str(provider_id)
    if regions:
        claims["regions"] = list(regions)
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.secret, algorithm="HS256")
