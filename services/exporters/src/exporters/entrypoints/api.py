"""`/v1/exporters`. Thin: a route turns a body into a command and hands it to the service layer."""

from __future__ import annotations

from tasdir.errors import NotFound
from tasdir.routing import service_router

from exporters.deps import ExporterPrincipal, Idempotent, UoW
from exporters.entrypoints.schemas import ExporterCreate, ExporterPublic
from exporters.service_layer import services

router = service_router(prefix="/v1/exporters", tags=["exporters"])


@router.post("", status_code=201, response_model=ExporterPublic, dependencies=[Idempotent])
async def register_exporter(
    body: ExporterCreate, principal: ExporterPrincipal, uow: UoW
) -> ExporterPublic:
    command = services.RegisterExporter(org=principal.org, **body.model_dump())
    return ExporterPublic.of(await services.register_exporter(command, uow))


@router.get("/me", response_model=ExporterPublic)
async def my_exporter(principal: ExporterPrincipal, uow: UoW) -> ExporterPublic:
    exporter = await uow.exporters.by_org(principal.org)
    if exporter is None:
        raise NotFound("no exporter profile for this organisation")
    return ExporterPublic.of(exporter)
