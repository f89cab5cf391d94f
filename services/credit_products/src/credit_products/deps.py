"""The dependencies of credit_products' routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from tasdir.auth import CurrentPrincipal, Principal, require_roles
from tasdir.idempotency import idempotency_for
from tasdir.routing import SettingsDep, uow_for

from credit_products.service_layer.uow import CreditProductsUnitOfWork

SERVICE = "credit_products"

UoW = Annotated[CreditProductsUnitOfWork, Depends(uow_for(SERVICE))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
AdminOrProvider = Annotated[Principal, Depends(require_roles("admin", "provider"))]
ProviderPrincipal = Annotated[Principal, Depends(require_roles("provider"))]
# On a POST: `Idempotency-Key` replays the first answer (see `tasdir.idempotency`).
Idempotent = Depends(idempotency_for(SERVICE))

__all__ = [
    "Admin",
    "AdminOrProvider",
    "CurrentPrincipal",
    "Idempotent",
    "ProviderPrincipal",
    "SettingsDep",
    "UoW",
]
