"""`/v1/providers`: admins register providers; a provider may revise its own; everyone reads.

Thin: each route turns a body into a command and hands it to the service layer.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from tasdir.api import uow_for
from tasdir.auth import CurrentPrincipal, Principal, require_roles
from tasdir.errors import NotFound
from tasdir.idempotency import IdempotentRequest, idempotency_for
from tasdir.pagination import Page, PageParamsDep

from credit_products.adapters.orm import Provider
from credit_products.domain.provider import (
    ProviderKind,
    ProviderStatus,
    checked_country,
    checked_regions,
)
from credit_products.service_layer import services
from credit_products.service_layer.uow import CreditProductsUnitOfWork

router = APIRouter(prefix="/v1/providers", tags=["providers"])
UoW = Annotated[CreditProductsUnitOfWork, Depends(uow_for("credit_products"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
AdminOrProvider = Annotated[Principal, Depends(require_roles("admin", "provider"))]
Idempotency = Annotated[IdempotentRequest | None, Depends(idempotency_for("credit_products"))]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Country = Annotated[
    str,
    Field(description="ISO 3166-1 alpha-2, upper-case", examples=["MA"]),
    AfterValidator(checked_country),
]
Regions = Annotated[
    list[str],
    Field(description="Moroccan region codes; empty means national"),
    AfterValidator(checked_regions),
]
Contact = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ProviderKind
    country: Country
    regions: Regions = []
    contact: Contact | None = None


class ProviderUpdate(BaseModel):
    """Only the fields sent change. `contact: null` clears the contact; other fields need a
    value."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: ProviderKind | None = None
    country: Country | None = None
    regions: Regions | None = None
    contact: Contact | None = None

    @field_validator("name", "kind", "country", "regions", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class ProviderPublic(BaseModel):
    id: UUID
    name: str
    kind: ProviderKind
    country: str
    regions: list[str]
    contact: str | None
    status: ProviderStatus
    version: int

    @classmethod
    def of(cls, provider: Provider) -> ProviderPublic:
        return cls.model_validate(services.representation(provider))


@router.post("", status_code=201, response_model=ProviderPublic)
async def register_provider(
    body: ProviderCreate, principal: Admin, uow: UoW, idempotency: Idempotency
) -> ProviderPublic:
    command = services.RegisterProvider(
        name=body.name,
        kind=body.kind,
        country=body.country,
        regions=tuple(body.regions),
        contact=body.contact,
    )
    provider = await services.register_provider(command, uow, idempotency=idempotency)
    return ProviderPublic.of(provider)


@router.get("", response_model=Page[ProviderPublic])
async def list_providers(
    principal: CurrentPrincipal, params: PageParamsDep, uow: UoW
) -> Page[ProviderPublic]:
    page = await uow.providers.page(params)
    return Page(items=[ProviderPublic.of(p) for p in page.items], next_cursor=page.next_cursor)


@router.get("/{provider_id}", response_model=ProviderPublic)
async def get_provider(provider_id: UUID, principal: CurrentPrincipal, uow: UoW) -> ProviderPublic:
    provider = await uow.providers.get(provider_id)
    if provider is None:
        raise NotFound("no such provider")
    return ProviderPublic.of(provider)


@router.patch("/{provider_id}", response_model=ProviderPublic)
async def update_provider(
    provider_id: UUID, body: ProviderUpdate, principal: AdminOrProvider, uow: UoW
) -> ProviderPublic:
    command = services.UpdateProvider(
        provider_id=provider_id,
        changes=body.model_dump(exclude_unset=True),
        acting_provider_id=principal.provider_id if principal.role == "provider" else None,
    )
    provider = await services.update_provider(command, uow)
    return ProviderPublic.of(provider)
