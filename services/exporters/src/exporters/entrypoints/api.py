"""HTTP entrypoints: thin, they turn a body into a command and hand it to the service layer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from tasdir.api import uow_for
from tasdir.auth import Principal, require_roles
from tasdir.errors import NotFound
from tasdir.idempotency import IdempotentRequest, idempotency_for

from exporters.adapters.orm import Exporter
from exporters.service_layer import services
from exporters.service_layer.uow import ExportersUnitOfWork

router = APIRouter(prefix="/v1/exporters", tags=["exporters"])
UoW = Annotated[ExportersUnitOfWork, Depends(uow_for("exporters"))]
ExporterPrincipal = Annotated[Principal, Depends(require_roles("exporter"))]
Idempotency = Annotated[IdempotentRequest | None, Depends(idempotency_for("exporters"))]


class ExporterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    legal_name: str = Field(min_length=1, max_length=200)
    ice: str = Field(pattern=r"^\d{15}$", description="Moroccan company id, 15 digits")
    region: str = Field(min_length=1, max_length=64)


class ExporterPublic(BaseModel):
    id: UUID
    org: str
    status: str
    legal_name: str
    ice: str
    region: str

    @classmethod
    def of(cls, exporter: Exporter) -> ExporterPublic:
        return cls.model_validate(services.snapshot(exporter))


@router.post("", status_code=201, response_model=ExporterPublic)
async def register_exporter(
    body: ExporterCreate, principal: ExporterPrincipal, uow: UoW, idempotency: Idempotency
) -> ExporterPublic:
    command = services.RegisterExporter(org=principal.org, **body.model_dump())
    exporter = await services.register_exporter(command, uow, idempotency=idempotency)
    return ExporterPublic.of(exporter)


@router.get("/me", response_model=ExporterPublic)
async def my_exporter(principal: ExporterPrincipal, uow: UoW) -> ExporterPublic:
    exporter = await uow.exporters.by_org(principal.org)
    if exporter is None:
        raise NotFound("no exporter profile for this organisation")
    return ExporterPublic.of(exporter)
