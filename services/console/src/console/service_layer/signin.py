"""Who may sign in, and how.

- development (`make run`, `make stack`): a page lists the dev principals (the demo accounts
  when the composition root knows them) and mints a dev token for the one chosen, with
  `tasdir.auth.issue_token`, as `tasdir token` does;
- production: OpenID Connect (authorization code with PKCE) against the identity provider.
  Not built yet: the sign-in page answers 501 and says so (docs/console.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tasdir.auth import ROLES, Role, issue_token
from tasdir.settings import Settings

# A dev sign-in lasts as long as a session.
DEV_TOKEN_TTL_SECONDS = 8 * 3600


@dataclass(frozen=True)
class DevPrincipal:
    """An account of the dev sign-in page: what the page says, and the claims of its token."""

    key: str
    label: str
    role: Role
    sub: str
    org: str | None = None
    provider_id: str | None = None
    regions: tuple[str, ...] = ()

    def token(self, settings: Settings, ttl_seconds: int = DEV_TOKEN_TTL_SECONDS) -> str:
        return issue_token(
            settings,
            role=self.role,
            sub=self.sub,
            org=self.org,
            provider_id=self.provider_id,
            regions=self.regions,
            ttl_seconds=ttl_seconds,
        )


#: The accounts to list, asked for each time the page is shown (the demo's are known only once
#: its data set has loaded).
PrincipalSource = Callable[[], Sequence[DevPrincipal]]


def one_per_role(advisor_regions: tuple[str, ...]) -> list[DevPrincipal]:
    """A plain account per role, when nobody said which ones to list (`python -m console`)."""
    return [
        DevPrincipal(
            key=f"dev-{role}",
            label=role,
            role=role,
            sub=f"dev-{role}",
            org="dev-org" if role == "exporter" else None,
            provider_id="00000000-0000-4000-8000-000000000001" if role == "provider" else None,
            regions=advisor_regions if role == "advisor" else (),
        )
        for role in ROLES
    ]


def find(principals: Sequence[DevPrincipal], key: str) -> DevPrincipal | None:
    return next((p for p in principals if p.key == key), None)
