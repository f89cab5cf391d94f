"""The dependencies of exporters' routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from tasdir.auth import Principal, require_roles
from tasdir.idempotency import idempotency_for
from tasdir.routing import uow_for

from exporters.config import get_exporters_settings
from exporters.domain.exporter import DerivationRules
from exporters.service_layer.uow import ExportersUnitOfWork

SERVICE = "exporters"


async def derivation_rules() -> DerivationRules:
    # A coroutine: FastAPI runs a plain function in its thread pool.
    return get_exporters_settings().derivation_rules()


UoW = Annotated[ExportersUnitOfWork, Depends(uow_for(SERVICE))]
Rules = Annotated[DerivationRules, Depends(derivation_rules)]
ExporterPrincipal = Annotated[Principal, Depends(require_roles("exporter"))]
ExporterOrAdmin = Annotated[Principal, Depends(require_roles("exporter", "admin"))]
Reviewer = Annotated[Principal, Depends(require_roles("advisor", "admin"))]
Reader = Annotated[Principal, Depends(require_roles("exporter", "advisor", "admin"))]
# On a POST: `Idempotency-Key` replays the first answer (see `tasdir.idempotency`).
Idempotent = Depends(idempotency_for(SERVICE))

__all__ = [
    "ExporterOrAdmin",
    "ExporterPrincipal",
    "Idempotent",
    "Reader",
    "Reviewer",
    "Rules",
    "UoW",
]
