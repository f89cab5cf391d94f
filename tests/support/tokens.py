"""Tokens of every role with valid claims filled in, so a test names only what it is about."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from tasdir.auth import Role, issue_token
from tasdir.settings import Settings

DEFAULT_REGIONS = ("casablanca-settat", "souss-massa")


def make_token(settings: Settings, role: Role | str = "exporter", **claims: Any) -> str:
    """A signed token: an advisor gets two regions and a provider a provider id unless given."""
    claims.setdefault("sub", f"{role}-1")
    if role == "advisor":
        claims.setdefault("regions", DEFAULT_REGIONS)
    if role == "provider":
        claims.setdefault("provider_id", uuid4())
    return issue_token(settings, role=role, **claims)  # type: ignore[arg-type]


def bearer(settings: Settings, role: Role | str = "exporter", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(settings, role, **claims)}"}
