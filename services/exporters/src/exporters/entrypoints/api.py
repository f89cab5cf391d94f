"""`/v1/exporters`. Thin: a route turns a body into a command and hands it to the service layer."""

from __future__ import annotations

from tasdir.errors import NotFound
from tasdir.openapi import link
from tasdir.routing import service_router

from exporters.deps import ExporterPrincipal, Idempotent, UoW
from exporters.entrypoints.schemas import ExporterCreate, ExporterPublic
from exporters.service_layer import services

router = service_router(prefix="/v1/exporters", tags=["exporters"])


@router.post(
    "",
    status_code=201,
    response_model=ExporterPublic,
    dependencies=[Idempotent],
    responses={
        201: {"links": {"MyExporter": link("my_exporter", "Read the profile back.")}},
        409: {
            "description": "This organisation already has a profile (`duplicate`), another "
            "exporter has this ICE (`duplicate-ice`), or a request with this Idempotency-Key "
            "is in flight."
        },
    },
)
async def register_exporter(
    body: ExporterCreate, principal: ExporterPrincipal, uow: UoW
) -> ExporterPublic:
    command = services.RegisterExporter(org=principal.org, **body.model_dump())
    return ExporterPublic.of(await services.register_exporter(command, uow))


@router.get(
    "/me",
    response_model=ExporterPublic,
    responses={404: {"description": "This organisation has no exporter profile yet."}},
)
async def my_exporter(principal: ExporterPrincipal, uow: UoW) -> ExporterPublic:
    exporter = await uow.exporters.by_org(principal.org)
    if exporter is None:
        raise NotFound("no exporter profile for this organisation")
    return ExporterPublic.of(exporter)
