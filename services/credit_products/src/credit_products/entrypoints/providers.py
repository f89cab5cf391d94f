"""`/v1/providers`: admins register providers; a provider may revise its own; everyone reads.

Thin: each route turns a body into a command and hands it to the service layer.
"""

from __future__ import annotations

from uuid import UUID

from tasdir.errors import NotFound
from tasdir.openapi import link
from tasdir.pagination import Page, PageParamsDep
from tasdir.routing import service_router

from credit_products.deps import Admin, AdminOrProvider, CurrentPrincipal, Idempotent, UoW
from credit_products.entrypoints.schemas import ProviderCreate, ProviderPublic, ProviderUpdate
from credit_products.service_layer import services

router = service_router(prefix="/v1/providers", tags=["providers"])


def _links_to_the_provider() -> dict[str, object]:
    return {
        "GetProvider": link("get_provider", "Read it.", provider_id="$response.body#/id"),
        "ReviseProvider": link("revise_provider", "Revise it.", provider_id="$response.body#/id"),
    }


@router.post(
    "",
    status_code=201,
    response_model=ProviderPublic,
    dependencies=[Idempotent],
    responses={201: {"links": _links_to_the_provider()}},
)
async def register_provider(body: ProviderCreate, principal: Admin, uow: UoW) -> ProviderPublic:
    command = services.RegisterProvider(
        name=body.name,
        kind=body.kind,
        country=body.country,
        regions=tuple(body.regions),
        contact=body.contact,
    )
    return ProviderPublic.of(await services.register_provider(command, uow))


@router.get("", response_model=Page[ProviderPublic])
async def list_providers(
    principal: CurrentPrincipal, params: PageParamsDep, uow: UoW
) -> Page[ProviderPublic]:
    page = await uow.providers.listing(params)
    return Page(items=[ProviderPublic.of(p) for p in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{provider_id}",
    response_model=ProviderPublic,
    responses={200: {"links": _links_to_the_provider()}},
)
async def get_provider(provider_id: UUID, principal: CurrentPrincipal, uow: UoW) -> ProviderPublic:
    provider = await uow.providers.get(provider_id)
    if provider is None:
        raise NotFound("no such provider")
    return ProviderPublic.of(provider)


@router.patch(
    "/{provider_id}",
    response_model=ProviderPublic,
    responses={
        200: {"links": _links_to_the_provider()},
        404: {"description": "No such provider, or (for a provider) not its own."},
    },
)
async def revise_provider(
    provider_id: UUID, body: ProviderUpdate, principal: AdminOrProvider, uow: UoW
) -> ProviderPublic:
    command = services.ReviseProvider(
        provider_id=provider_id,
        changes=body.changes(),
        acting_provider_id=principal.provider_id if principal.role == "provider" else None,
    )
    return ProviderPublic.of(await services.revise_provider(command, uow))
