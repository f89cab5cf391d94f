"""The browser's session: one cookie, encrypted and signed (Fernet), HttpOnly, SameSite=Lax.

It holds the user's API token (forwarded to the API as a bearer token, never shown), who the
user is for the page header, the chosen language and the CSRF token of its forms. Nothing is
kept on the server: a cookie that does not decrypt, or is older than the TTL, is no session.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "tasdir_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    """Anonymous until `token` is set (the sign-in page still needs a CSRF token)."""

    csrf: str = field(default_factory=new_csrf)
    token: str | None = None
    role: str | None = None
    sub: str | None = None
    label: str | None = None
    regions: tuple[str, ...] = ()
    lang: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def signed_in_as(
        self, token: str, *, role: str, sub: str, label: str, regions: tuple[str, ...]
    ) -> Session:
        """The session after a sign-in: a fresh CSRF token (no fixation across the sign-in)."""
        return replace(
            self, csrf=new_csrf(), token=token, role=role, sub=sub, label=label, regions=regions
        )

    def signed_out(self) -> Session:
        return Session(lang=self.lang)

    def with_lang(self, lang: str) -> Session:
        return replace(self, lang=lang)

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionCodec:
    """Session <-> cookie value. The Fernet key is derived from the configured secret with
    HKDF, so that any secret of 32 bytes or more serves, and the key is for this use only."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"tasdir-console-session"
        ).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.ttl_seconds = ttl_seconds

    def encode(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def decode(self, value: str | None) -> Session | None:
        """The session in a cookie; None if there is none, it was tampered with or expired."""
        if not value:
            return None
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(value, ttl=self.ttl_seconds))
            data["regions"] = tuple(data.get("regions") or ())
            return Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return None
