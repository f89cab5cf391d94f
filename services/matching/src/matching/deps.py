"""The dependencies of matching's routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from tasdir.auth import Principal, require_roles
from tasdir.routing import uow_for

from matching.service_layer.uow import MatchingUnitOfWork

SERVICE = "matching"

UoW = Annotated[MatchingUnitOfWork, Depends(uow_for(SERVICE))]
Reviewer = Annotated[Principal, Depends(require_roles("advisor", "admin"))]
Reader = Annotated[Principal, Depends(require_roles("exporter", "advisor", "admin"))]

__all__ = ["Reader", "Reviewer", "UoW"]
