"""Who may sign in, and how.

- development (`make run`, `make stack`): a page lists the dev principals (the demo accounts
  when the composition root knows them) and mints a dev token for the one chosen, with the
  library's `tasdir.auth.issue_token` (under `make run`, with `tasdir token`'s own code);
- production: OpenID Connect (authorization code with PKCE) against the identity provider.
  Not built yet: the sign-in page answers 501 and says so (docs/console.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from tasdir.auth import ROLES, Role, issue_token
from tasdir.settings import Settings

# A dev sign-in lasts as long as a session.
DEV_TOKEN_TTL_SECONDS = 8 * 3600
#: Signs a principal's dev token with the settings' secret.
Mint = Callable[[Settings], str]


@dataclass(frozen=True)
class DevPrincipal:
    """An account of the dev sign-in page: what the page and the session say of it, and how
    its token is signed."""

    key: str
    label: str
    role: Role
    sub: str
    mint: Mint
    regions: tuple[str, ...] = ()

    def token(self, settings: Settings) -> str:
        return self.mint(settings)


#: The accounts to list, asked for each time the page is shown (the demo's are known only once
#: its data set has loaded).
PrincipalSource = Callable[[], Sequence[DevPrincipal]]


def _plain(role: Role, advisor_regions: tuple[str, ...]) -> DevPrincipal:
    sub = f"dev-{role}"
    regions = advisor_regions if role == "advisor" else ()
    mint = partial(
        issue_token,
        role=role,
        sub=sub,
        org="dev-org" if role == "exporter" else None,
        provider_id="00000000-0000-4000-8000-000000000001" if role == "provider" else None,
        regions=regions,
        ttl_seconds=DEV_TOKEN_TTL_SECONDS,
    )
    return DevPrincipal(key=sub, label=role, role=role, sub=sub, mint=mint, regions=regions)


def one_per_role(advisor_regions: tuple[str, ...]) -> list[DevPrincipal]:
    """A plain account per role, when nobody said which ones to list (`python -m console`)."""
    return [_plain(role, advisor_regions) for role in ROLES]


def find(principals: Sequence[DevPrincipal], key: str) -> DevPrincipal | None:
    return next((p for p in principals if p.key == key), None)
