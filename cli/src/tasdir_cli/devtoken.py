"""Dev tokens: `tasdir token --role exporter|provider|advisor|admin` (`make token ROLE=…`).

The command prints the JWT, and nothing else, on stdout, so that `TOKEN=$(make token
ROLE=exporter)` works. The token is signed with the configured secret (`TASDIR_JWT_SECRET`, or
the dev secret under `TASDIR_ENVIRONMENT=development`), so it is accepted by `make run` and
`make stack` as long as they read the same settings. The claims follow the services' rules: an
advisor has at least one region, a provider a UUID `provider_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from tasdir.auth import ROLES, Role, issue_token
from tasdir.reference import geography
from tasdir.settings import Settings

# Two regions, so that an advisor's dev token shows the region filter at work.
DEFAULT_ADVISOR_REGIONS = ("casablanca-settat", "souss-massa")
DEFAULT_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class DevIdentity:
    """The claims of one dev token, with the defaults filled in."""

    role: Role
    sub: str
    org: str | None = None
    provider_id: str | None = None
    regions: tuple[str, ...] = ()


def dev_identity(
    role: str,
    *,
    sub: str | None = None,
    org: str | None = None,
    provider_id: str | None = None,
    regions: Sequence[str] | None = None,
) -> DevIdentity:
    """Fill the defaults of each role; raise `ValueError` on a role or region that is unknown,
    or a provider id that is not a UUID."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    chosen_regions = tuple(dict.fromkeys(r.strip() for r in (regions or ()) if r.strip()))
    if role == "advisor" and not chosen_regions:
        chosen_regions = DEFAULT_ADVISOR_REGIONS
    unknown = [r for r in chosen_regions if not geography.is_region(r)]
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(unknown)}")
    if role == "provider":
        if not provider_id:
            provider_id = str(uuid4())
        else:
            try:
                provider_id = str(UUID(provider_id))
            except ValueError:
                raise ValueError(f"a provider's id must be a UUID, not {provider_id!r}") from None
    return DevIdentity(
        role=role,
        sub=sub or f"dev-{role}",
        org=org or None,
        provider_id=provider_id or None,
        regions=chosen_regions,
    )


def dev_token(
    settings: Settings, identity: DevIdentity, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> str:
    return issue_token(
        settings,
        role=identity.role,
        sub=identity.sub,
        org=identity.org,
        provider_id=identity.provider_id,
        regions=identity.regions,
        ttl_seconds=ttl_seconds,
    )


__all__ = [
    "DEFAULT_ADVISOR_REGIONS",
    "DEFAULT_TTL_SECONDS",
    "DevIdentity",
    "dev_identity",
    "dev_token",
]
