"""JWT verification, the principal, role guards and dev tokens.

HS256 with a shared secret for development, or RS256/ES256 keys from a JWKS URL (an identity
provider such as Keycloak). `exp` is always required; `iss` and `aud` when configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tasdir.errors import Forbidden, Unauthorized
from tasdir.limits import rate_limiter
from tasdir.settings import Settings

Role = Literal["exporter", "provider", "advisor", "admin"]
ROLES: tuple[Role, ...] = ("exporter", "provider", "advisor", "admin")


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    org: str
    provider_id: str | None = None
    regions: tuple[str, ...] = ()

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        role = claims.get("role")
        sub = claims.get("sub")
        if role not in ROLES:
            raise Unauthorized("the token carries no known role")
        if not isinstance(sub, str) or not sub:
            raise Unauthorized("the token carries no subject")
        regions = claims.get("regions") or ()
        if isinstance(regions, str):
            regions = tuple(r for r in regions.split(",") if r)
        provider_id = claims.get("provider_id")
        if role == "provider" and not provider_id:
            raise Unauthorized("a provider token needs a provider_id")
        return cls(
            sub=sub,
            role=role,
            org=str(claims.get("org") or sub),
            provider_id=str(provider_id) if provider_id else None,
            regions=tuple(str(r) for r in regions),
        )


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    def verify(self, token: str) -> Principal:
        options: Any = {"require": ["exp", "sub"]}
        if self._issuer:
            options["require"].append("iss")
        if not self._audience:
            options["verify_aud"] = False
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256", "ES256"]
            else:
                key, algorithms = self._secret, ["HS256"]
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
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized(f"invalid token: {exc}", kind="invalid-token") from None
        return Principal.from_claims(claims)


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified principal, counted against its rate limit.

    The limit is applied here, not in each service, so that no authenticated route can forget
    it; FastAPI caches this dependency per request, so a request counts once.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required", kind="missing-token")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(credentials.credentials)
    request.state.principal = principal
    limiter = rate_limiter(request)
    if limiter is not None:
        await limiter.hit(principal.sub)
    return principal


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """403 for a role that may never use the route; ownership is checked later (404)."""

    async def guard(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role!r} may not use this route")
        return principal

    return guard


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def issue_token(
    settings: Settings,
    *,
    role: Role,
    sub: str,
    org: str | None = None,
    provider_id: str | None = None,
    regions: tuple[str, ...] = (),
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A dev token signed with the shared secret."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds}
    if org:
        claims["org"] = org
    if provider_id:
        claims["provider_id"] = provider_id
    if regions:
        claims["regions"] = list(regions)
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
