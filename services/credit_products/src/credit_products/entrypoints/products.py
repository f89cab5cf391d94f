"""`/v1/products`: a provider writes its products; every authenticated role reads the catalogue.

A provider acts on its own products only; another's answers 404, and its drafts are invisible
to everyone else. Exporters, advisors and admins read, and get 403 on every write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import Path, Query
from tasdir.auth import Principal
from tasdir.errors import NotFound
from tasdir.models import DecimalInput
from tasdir.openapi import Responses, link
from tasdir.pagination import Page, PageParamsDep
from tasdir.reference import (
    ANY,
    FxRateUnavailable,
    convert,
    fx_table,
    instrument_family,
    is_instrument_family,
)
from tasdir.reference.codes import (
    CurrencyCode,
    DestinationCode,
    HsChapterCode,
    InstrumentRequestCode,
)
from tasdir.routing import service_router

from credit_products.deps import CurrentPrincipal, Idempotent, ProviderPrincipal, SettingsDep, UoW
from credit_products.domain.product import Product
from credit_products.entrypoints.product_schemas import (
    ProductCreate,
    ProductPublic,
    ProductUpdate,
)
from credit_products.service_layer import services

router = service_router(prefix="/v1/products", tags=["products"])
NOT_YOURS: Responses = {404: {"description": "No such product, or not yours to change."}}


def _links() -> Responses:
    return {
        "GetProduct": link("get_product", "Read it.", product_id="$response.body#/id"),
        "ReviseProduct": link("revise_product", "Revise it.", product_id="$response.body#/id"),
        "PublishProduct": link("publish_product", "Publish it.", product_id="$response.body#/id"),
        "WithdrawProduct": link(
            "withdraw_product", "Withdraw it.", product_id="$response.body#/id"
        ),
    }


def _instruments_of(code: str) -> frozenset[str] | None:
    """An instrument, a family's instruments (guarantees included: the catalogue lists them),
    or every one (`any`: no filter)."""
    if code == ANY:
        return None
    if is_instrument_family(code):
        return frozenset(instrument_family(code).instruments)
    return frozenset({code})


def _owner(principal: Principal, product: Product) -> bool:
    return principal.role == "provider" and principal.provider_id == product.provider_id


def _provider_id(principal: Principal) -> UUID:
    assert principal.provider_id is not None  # a provider token always carries one
    return principal.provider_id


@router.post(
    "",
    status_code=201,
    response_model=ProductPublic,
    dependencies=[Idempotent],
    responses={
        201: {"links": _links()},
        409: {
            "description": "Your provider is not registered (`unknown-provider`) or is "
            "suspended, or a request with this Idempotency-Key is in flight."
        },
    },
)
async def create_product(
    body: ProductCreate, principal: ProviderPrincipal, uow: UoW
) -> ProductPublic:
    """A draft of version 1, visible to its provider only until it is published."""
    command = services.CreateProduct(provider_id=_provider_id(principal), terms=body.terms())
    return ProductPublic.of(await services.create_product(command, uow))


@router.get("", response_model=Page[ProductPublic])
async def list_products(
    principal: CurrentPrincipal,
    uow: UoW,
    params: PageParamsDep,
    settings: SettingsDep,
    instrument: Annotated[InstrumentRequestCode | None, Query()] = None,
    currency: Annotated[CurrencyCode | None, Query()] = None,
    provider_id: UUID | None = None,
    destination: Annotated[
        DestinationCode | None,
        Query(description="Products that may serve some country of it (a bloc or a region)."),
    ] = None,
    hs_chapter: Annotated[HsChapterCode | None, Query()] = None,
    amount: Annotated[
        Decimal | None,
        Query(description="Products whose bounds hold it, in `amount_currency` (default MAD)."),
        DecimalInput(places=4),
    ] = None,
    amount_currency: Annotated[CurrencyCode, Query()] = "MAD",
) -> Page[ProductPublic]:
    """The published catalogue, oldest first; a provider sees its own drafts too."""
    owner = principal.provider_id if principal.role == "provider" else None
    instruments = None if instrument is None else _instruments_of(instrument)
    table = fx_table(settings.fx_table)

    def keep(product: Product) -> bool:
        shown = product.view(owner=product.provider_id == owner)
        if shown is None:
            return False
        terms = shown.terms
        if instruments is not None and terms.instrument not in instruments:
            return False
        if currency is not None and currency not in terms.currencies:
            return False
        if provider_id is not None and product.provider_id != provider_id:
            return False
        if destination is not None and not terms.covers_destination(destination):
            return False
        if hs_chapter is not None and not terms.covers_hs_chapter(hs_chapter):
            return False
        if amount is not None and (terms.amount_min is not None or terms.amount_max is not None):
            try:
                wanted = convert(amount, amount_currency, terms.amount_currency, table=table)
            except FxRateUnavailable:
                return False
            if not terms.covers_amount(wanted):
                return False
        return True

    page = await uow.products.catalogue(params, owner=owner, keep=keep)
    return Page(
        items=[ProductPublic.of(p, p.view(owner=p.provider_id == owner)) for p in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{product_id}",
    response_model=ProductPublic,
    responses={200: {"links": _links()}, 404: {"description": "No such product published."}},
)
async def get_product(product_id: UUID, principal: CurrentPrincipal, uow: UoW) -> ProductPublic:
    """Its latest published version; to its provider, its latest version, draft included."""
    product = await uow.products.get(product_id)
    shown = None if product is None else product.view(owner=_owner(principal, product))
    if product is None or shown is None:
        raise NotFound("no such product")
    return ProductPublic.of(product, shown)


@router.get(
    "/{product_id}/versions/{number}",
    response_model=ProductPublic,
    responses={404: {"description": "No such product or version (a draft is its owner's)."}},
)
async def get_product_version(
    product_id: UUID,
    number: Annotated[int, Path(ge=1, le=100_000)],
    principal: CurrentPrincipal,
    uow: UoW,
) -> ProductPublic:
    """One version as it was published (or as its owner drafts it): versions never change."""
    product = await uow.products.get(product_id)
    shown = None if product is None else product.at(number, owner=_owner(principal, product))
    if product is None or shown is None:
        raise NotFound("no such product version")
    return ProductPublic.of(product, shown)


@router.patch(
    "/{product_id}",
    response_model=ProductPublic,
    responses={**NOT_YOURS, 409: {"description": "The product is withdrawn."}},
)
async def revise_product(
    product_id: UUID, body: ProductUpdate, principal: ProviderPrincipal, uow: UoW
) -> ProductPublic:
    """Change the draft; on a published product, start the draft of the next version (the
    published one stays in the catalogue until that draft is published)."""
    command = services.ReviseProduct(product_id, _provider_id(principal), body.changes())
    return ProductPublic.of(await services.revise_product(command, uow))


@router.post(
    "/{product_id}/publish",
    response_model=ProductPublic,
    responses={
        **NOT_YOURS,
        409: {"description": "No draft to publish, a withdrawn product, or a suspended provider."},
    },
)
async def publish_product(
    product_id: UUID, principal: ProviderPrincipal, uow: UoW
) -> ProductPublic:
    command = services.PublishProduct(product_id, _provider_id(principal))
    product = await services.publish_product(command, uow)
    return ProductPublic.of(product, product.current)


@router.post(
    "/{product_id}/withdraw",
    response_model=ProductPublic,
    responses={**NOT_YOURS, 409: {"description": "The product is not published."}},
)
async def withdraw_product(
    product_id: UUID, principal: ProviderPrincipal, uow: UoW
) -> ProductPublic:
    command = services.WithdrawProduct(product_id, _provider_id(principal))
    product = await services.withdraw_product(command, uow)
    return ProductPublic.of(product, product.current)
