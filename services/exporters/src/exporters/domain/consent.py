"""An exporter's consent to share its file with one provider.

There is one consent per exporter and provider. Granting makes it `granted` (again, after a
revocation, or with a new expiry); revoking makes it `revoked`. Past its `expires_at` a granted
consent reads as `expired` (a scheduler that records expiries as events is planned in matching).
Granting again without `expires_at` makes the consent open-ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from tasdir.contracts import events
from tasdir.domain import Violations
from tasdir.errors import Conflict

ConsentStatus = Literal["granted", "revoked", "expired"]


@dataclass(eq=False)
class Consent:
    id: UUID
    exporter_id: UUID
    org: str
    provider_id: UUID
    status: str
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
        broken = Violations(kind="invalid-consent")
        if expires_at is not None:
            broken.check(expires_at > now, "expires_at", "must be in the future")
        broken.raise_if_any()

    @classmethod
    def grant_new(
        cls,
        *,
        exporter_id: UUID,
        org: str,
        provider_id: UUID,
        expires_at: datetime | None,
        now: datetime,
    ) -> tuple[Consent, events.ConsentGranted]:
        cls._check_expiry(expires_at, now)
        consent = cls(
            id=uuid4(),
            exporter_id=exporter_id,
            org=org,
            provider_id=provider_id,
            status="granted",
            granted_at=now,
            expires_at=expires_at,
            revoked_at=None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        return consent, events.ConsentGranted.model_validate(consent.snapshot(now))

    def effective_status(self, now: datetime) -> str:
        if self.status == "granted" and self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return self.status

    def grant_again(
        self, *, expires_at: datetime | None, now: datetime
    ) -> events.ConsentGranted | None:
        """Grant after a revocation or an expiry, or change the expiry; None if it is granted
        already with that expiry."""
        self._check_expiry(expires_at, now)
        if self.effective_status(now) == "granted" and self.expires_at == expires_at:
            return None
        if self.effective_status(now) != "granted":
            self.granted_at = now
        self.status = "granted"
        self.expires_at = expires_at
        self.revoked_at = None
        self.version += 1
        self.updated_at = now
        return events.ConsentGranted.model_validate(self.snapshot(now))

    def revoke(self, *, now: datetime) -> events.ConsentRevoked:
        if self.status == "revoked":
            raise Conflict("this consent is revoked already", kind="consent-revoked")
        self.status = "revoked"
        self.revoked_at = now
        self.version += 1
        self.updated_at = now
        return events.ConsentRevoked.model_validate(self.snapshot(now))

    def snapshot(self, now: datetime) -> dict[str, object]:
        return {
            "id": self.id,
            "exporter_id": self.exporter_id,
            "org": self.org,
            "provider_id": self.provider_id,
            "status": self.effective_status(now),
            "granted_at": self.granted_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }
