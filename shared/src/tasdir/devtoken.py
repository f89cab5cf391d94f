"""Dev tokens: `python -m tasdir.devtoken --role exporter|provider|advisor|admin`.

It prints the JWT, and nothing else, on stdout, so that `TOKEN=$(make token ROLE=exporter)`
works. The token is signed with the configured secret (`TASDIR_JWT_SECRET`, by default the dev
secret), so it is accepted by `make run` and `make stack` as long as both read the same settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import uuid4

from tasdir.auth import ROLES, Role, issue_token
from tasdir.reference import geography
from tasdir.settings import Settings, get_settings

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
    """Fill the defaults of each role; raise `ValueError` on a role or region that is unknown."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    chosen_regions = tuple(r for r in (regions or ()) if r)
    if role == "advisor" and not chosen_regions:
        chosen_regions = DEFAULT_ADVISOR_REGIONS
    unknown = [r for r in chosen_regions if not geography.is_region(r)]
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(unknown)}")
    if role == "provider" and not provider_id:
        provider_id = str(uuid4())
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tasdir.devtoken",
        description="Print a dev JWT (and nothing else) on stdout.",
    )
    parser.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    parser.add_argument("--sub", default=None, help="subject; default dev-<role>")
    parser.add_argument("--org", default=None, help="organisation; default the subject")
    parser.add_argument(
        "--provider", default=None, help="provider_id of a provider; default a new uuid"
    )
    parser.add_argument(
        "--regions",
        default=None,
        help="comma-separated region codes of an advisor; "
        f"default {','.join(DEFAULT_ADVISOR_REGIONS)}",
    )
    parser.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="lifetime in seconds (default 12 h)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.ttl <= 0:
        parser.error("--ttl must be positive")
    try:
        identity = dev_identity(
            args.role.strip(),
            sub=args.sub,
            org=args.org,
            provider_id=args.provider,
            regions=args.regions.split(",") if args.regions else None,
        )
        settings = get_settings()
    except ValueError as exc:
        parser.error(str(exc))  # usage and message on stderr, exit code 2
    print(dev_token(settings, identity, ttl_seconds=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
