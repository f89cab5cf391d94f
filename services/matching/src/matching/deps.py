"""The dependencies of matching's routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from tasdir.auth import Principal, require_roles
from tasdir.idempotency import idempotency_for
from tasdir.routing import uow_for

from matching.service_layer.uow import MatchingUnitOfWork

SERVICE = "matching"

UoW = Annotated[MatchingUnitOfWork, Depends(uow_for(SERVICE))]
Reviewer = Annotated[Principal, Depends(require_roles("advisor", "admin"))]
Reader = Annotated[Principal, Depends(require_roles("exporter", "advisor", "admin"))]
# Referrals: their provider, their exporter, the advisors of the region, an admin.
Party = Annotated[Principal, Depends(require_roles("exporter", "provider", "advisor", "admin"))]
ProviderPrincipal = Annotated[Principal, Depends(require_roles("provider"))]
ExporterPrincipal = Annotated[Principal, Depends(require_roles("exporter"))]
ExporterOrAdmin = Annotated[Principal, Depends(require_roles("exporter", "admin"))]
# On a POST: `Idempotency-Key` replays the first answer (see `tasdir.idempotency`).
Idempotent = Depends(idempotency_for(SERVICE))

__all__ = [
    "ExporterOrAdmin",
    "ExporterPrincipal",
    "Idempotent",
    "Party",
    "ProviderPrincipal",
    "Reader",
    "Reviewer",
    "UoW",
]
