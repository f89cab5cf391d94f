"""`/v1/exporters`: the profile, its consents. Thin: a route turns a body into a command and
hands it to the service layer.

Who may do what: an exporter acts on its own organisation's profile; an advisor reads the
profiles of its regions; an admin reads all and may deactivate. Anything else that names an id
answers 404, and a provider gets 403 everywhere here.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response
from tasdir.auth import Principal
from tasdir.errors import NotFound
from tasdir.openapi import Responses, link
from tasdir.pagination import Page, PageParamsDep
from tasdir.reference.codes import HsChapterCode, RegionCode
from tasdir.routing import service_router

from exporters.deps import (
    ExporterOrAdmin,
    ExporterPrincipal,
    Idempotent,
    Reader,
    Reviewer,
    Rules,
    UoW,
)
from exporters.domain.exporter import Exporter, Profile
from exporters.entrypoints.schemas import (
    ConsentCreate,
    ConsentPublic,
    ExporterCreate,
    ExporterPublic,
    ExporterUpdate,
)
from exporters.service_layer import services

router = service_router(prefix="/v1/exporters", tags=["exporters"])

HsChapter = Annotated[
    HsChapterCode | None,
    Query(description="Exporters with a product in this HS chapter."),
]
NOT_YOURS: Responses = {404: {"description": "No such exporter, or not yours to see."}}


def _links() -> dict[str, object]:
    return {
        "GetExporter": link("get_exporter", "Read it.", exporter_id="$response.body#/id"),
        "ReviseExporter": link("revise_exporter", "Revise it.", exporter_id="$response.body#/id"),
        "ListConsents": link("list_consents", "Its consents.", exporter_id="$response.body#/id"),
    }


def visible(principal: Principal, exporter: Exporter) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "advisor":
        return exporter.region in principal.regions
    return principal.role == "exporter" and exporter.org == principal.org


@router.post(
    "",
    status_code=201,
    response_model=ExporterPublic,
    dependencies=[Idempotent],
    responses={
        201: {"links": _links()},
        409: {
            "description": "This organisation already has a profile (`duplicate`), another "
            "exporter has this ICE (`duplicate-ice`), or a request with this Idempotency-Key "
            "is in flight."
        },
    },
)
async def register_exporter(
    body: ExporterCreate, principal: ExporterPrincipal, uow: UoW, rules: Rules
) -> ExporterPublic:
    command = services.RegisterExporter(org=principal.org, profile=Profile(**body.fields()))  # type: ignore[arg-type]
    return ExporterPublic.of(await services.register_exporter(command, uow, rules))


@router.get("", response_model=Page[ExporterPublic])
async def list_exporters(
    principal: Reviewer,
    uow: UoW,
    params: PageParamsDep,
    region: Annotated[RegionCode | None, Query()] = None,
    hs_chapter: HsChapter = None,
    mono_market: bool | None = None,
) -> Page[ExporterPublic]:
    """The profiles of the advisor's regions (an admin's: all), oldest first."""
    regions: list[str] | None = None
    if principal.role == "advisor":
        regions = [r for r in principal.regions if region is None or r == region]
    elif region is not None:
        regions = [region]
    page = await uow.exporters.listing(
        params, regions=regions, hs_chapter=hs_chapter, mono_market=mono_market
    )
    return Page(items=[ExporterPublic.of(e) for e in page.items], next_cursor=page.next_cursor)


@router.get(
    "/me",
    response_model=ExporterPublic,
    responses={200: {"links": _links()}, 404: {"description": "No profile yet."}},
)
async def my_exporter(principal: ExporterPrincipal, uow: UoW) -> ExporterPublic:
    exporter = await uow.exporters.by_org(principal.org)
    if exporter is None:
        raise NotFound("no exporter profile for this organisation")
    return ExporterPublic.of(exporter)


@router.get(
    "/{exporter_id:uuid}",
    response_model=ExporterPublic,
    responses={200: {"links": _links()}, **NOT_YOURS},
)
async def get_exporter(exporter_id: UUID, principal: Reader, uow: UoW) -> ExporterPublic:
    exporter = await uow.exporters.get(exporter_id)
    if exporter is None or not visible(principal, exporter):
        raise NotFound("no such exporter")
    return ExporterPublic.of(exporter)


@router.patch(
    "/{exporter_id:uuid}",
    response_model=ExporterPublic,
    responses={
        **NOT_YOURS,
        409: {"description": "The profile is deactivated, or the ICE is another's."},
    },
)
async def revise_exporter(
    exporter_id: UUID, body: ExporterUpdate, principal: ExporterPrincipal, uow: UoW, rules: Rules
) -> ExporterPublic:
    command = services.ReviseExporter(exporter_id, principal.org, body.changes())
    return ExporterPublic.of(await services.revise_exporter(command, uow, rules))


@router.post("/{exporter_id:uuid}/deactivate", response_model=ExporterPublic, responses=NOT_YOURS)
async def deactivate_exporter(
    exporter_id: UUID, principal: ExporterOrAdmin, uow: UoW
) -> ExporterPublic:
    """Stop the profile: it cannot change, nor ask for financing, any more. Again: no change."""
    org = None if principal.role == "admin" else principal.org
    command = services.DeactivateExporter(exporter_id, org)
    return ExporterPublic.of(await services.deactivate_exporter(command, uow))


@router.post(
    "/{exporter_id:uuid}/consents",
    status_code=201,
    response_model=ConsentPublic,
    responses={
        200: {"model": ConsentPublic, "description": "Granted again, or its expiry changed."},
        **NOT_YOURS,
        409: {"description": "The profile is deactivated."},
        422: {"description": "Invalid input, or `provider_id` names no active provider."},
    },
)
async def grant_consent(
    exporter_id: UUID,
    body: ConsentCreate,
    principal: ExporterPrincipal,
    uow: UoW,
    response: Response,
) -> ConsentPublic:
    """Share the profile with a provider, until `expires_at` or a revocation."""
    command = services.GrantConsent(exporter_id, principal.org, body.provider_id, body.expires_at)
    consent, created = await services.grant_consent(command, uow)
    if not created:
        response.status_code = 200
    return ConsentPublic.of(consent)


@router.get("/{exporter_id:uuid}/consents", response_model=Page[ConsentPublic], responses=NOT_YOURS)
async def list_consents(
    exporter_id: UUID, principal: Reader, uow: UoW, params: PageParamsDep
) -> Page[ConsentPublic]:
    exporter = await uow.exporters.get(exporter_id)
    if exporter is None or not visible(principal, exporter):
        raise NotFound("no such exporter")
    page = await uow.consents.listing(params, exporter_id=exporter.id)
    return Page(items=[ConsentPublic.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.delete(
    "/{exporter_id:uuid}/consents/{provider_id:uuid}",
    response_model=ConsentPublic,
    responses={
        404: {"description": "No such exporter (or not yours), or no consent to this provider."},
        409: {"description": "Revoked already."},
    },
)
async def revoke_consent(
    exporter_id: UUID, provider_id: UUID, principal: ExporterPrincipal, uow: UoW
) -> ConsentPublic:
    command = services.RevokeConsent(exporter_id, principal.org, provider_id)
    return ConsentPublic.of(await services.revoke_consent(command, uow))
