"""The dependencies of exporters' routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from tasdir.auth import Principal, require_roles
from tasdir.idempotency import idempotency_for
from tasdir.routing import uow_for

from exporters.service_layer.uow import ExportersUnitOfWork

SERVICE = "exporters"

UoW = Annotated[ExportersUnitOfWork, Depends(uow_for(SERVICE))]
ExporterPrincipal = Annotated[Principal, Depends(require_roles("exporter"))]
# On a POST: `Idempotency-Key` replays the first answer (see `tasdir.idempotency`).
Idempotent = Depends(idempotency_for(SERVICE))

__all__ = ["ExporterPrincipal", "Idempotent", "UoW"]
