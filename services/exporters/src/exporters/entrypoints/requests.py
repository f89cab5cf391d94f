"""`/v1/financing-requests`: what an exporter asks for. An exporter acts on its own
organisation's requests; an advisor reads those of its regions; an admin reads all."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query
from tasdir.auth import Principal
from tasdir.errors import NotFound
from tasdir.openapi import Responses, link
from tasdir.pagination import Page, PageParamsDep
from tasdir.reference.codes import RegionCode
from tasdir.routing import service_router

from exporters.deps import ExporterPrincipal, Idempotent, Reader, UoW
from exporters.domain.financing_request import FinancingRequest, RequestStatus, Terms
from exporters.entrypoints.schemas import (
    FinancingRequestCreate,
    FinancingRequestPublic,
    FinancingRequestUpdate,
)
from exporters.service_layer import services

router = service_router(prefix="/v1/financing-requests", tags=["financing-requests"])
NOT_YOURS: Responses = {404: {"description": "No such request, or not yours to see."}}


def _links() -> dict[str, object]:
    return {
        "GetRequest": link("get_request", "Read it.", request_id="$response.body#/id"),
        "AmendRequest": link("amend_request", "Amend it.", request_id="$response.body#/id"),
        "WithdrawRequest": link(
            "withdraw_request", "Withdraw it.", request_id="$response.body#/id"
        ),
    }


def visible(principal: Principal, request: FinancingRequest) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "advisor":
        return request.region in principal.regions
    return principal.role == "exporter" and request.org == principal.org


@router.post(
    "",
    status_code=201,
    response_model=FinancingRequestPublic,
    dependencies=[Idempotent],
    responses={
        201: {"links": _links()},
        409: {
            "description": "No exporter profile yet (`no-exporter`), a deactivated one, or a "
            "request with this Idempotency-Key in flight."
        },
    },
)
async def submit_request(
    body: FinancingRequestCreate, principal: ExporterPrincipal, uow: UoW
) -> FinancingRequestPublic:
    command = services.SubmitRequest(org=principal.org, terms=Terms(**body.terms()))  # type: ignore[arg-type]
    return FinancingRequestPublic.of(await services.submit_request(command, uow))


@router.get("", response_model=Page[FinancingRequestPublic])
async def list_requests(
    principal: Reader,
    uow: UoW,
    params: PageParamsDep,
    status: RequestStatus | None = None,
    region: Annotated[RegionCode | None, Query()] = None,
) -> Page[FinancingRequestPublic]:
    """An exporter's own requests, an advisor's regions', or (an admin) all; oldest first."""
    org: str | None = None
    regions: list[str] | None = None
    if principal.role == "exporter":
        org = principal.org
        regions = None if region is None else [region]
    elif principal.role == "advisor":
        regions = [r for r in principal.regions if region is None or r == region]
    elif region is not None:
        regions = [region]
    page = await uow.requests.listing(params, org=org, regions=regions, status=status)
    return Page(
        items=[FinancingRequestPublic.of(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{request_id:uuid}",
    response_model=FinancingRequestPublic,
    responses={200: {"links": _links()}, **NOT_YOURS},
)
async def get_request(request_id: UUID, principal: Reader, uow: UoW) -> FinancingRequestPublic:
    request = await uow.requests.get(request_id)
    if request is None or not visible(principal, request):
        raise NotFound("no such financing request")
    return FinancingRequestPublic.of(request)


@router.patch(
    "/{request_id:uuid}",
    response_model=FinancingRequestPublic,
    responses={**NOT_YOURS, 409: {"description": "Not submitted or matched any more."}},
)
async def amend_request(
    request_id: UUID, body: FinancingRequestUpdate, principal: ExporterPrincipal, uow: UoW
) -> FinancingRequestPublic:
    command = services.AmendRequest(request_id, principal.org, body.changes())
    return FinancingRequestPublic.of(await services.amend_request(command, uow))


@router.post(
    "/{request_id:uuid}/withdraw",
    response_model=FinancingRequestPublic,
    responses={**NOT_YOURS, 409: {"description": "The request is final already."}},
)
async def withdraw_request(
    request_id: UUID, principal: ExporterPrincipal, uow: UoW
) -> FinancingRequestPublic:
    command = services.WithdrawRequest(request_id, principal.org)
    return FinancingRequestPublic.of(await services.withdraw_request(command, uow))
