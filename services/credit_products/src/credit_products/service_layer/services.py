"""Use cases of credit_products: load, ask the aggregate, hand the result to the unit of work.

They take plain commands and a unit of work, never an HTTP type, so the unit tests run them on
fakes without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from tasdir.contracts import utcnow
from tasdir.errors import Conflict, NotFound

from credit_products.domain.product import Product, ProductTerms
from credit_products.domain.provider import Provider
from credit_products.service_layer.uow import CreditProductsUnitOfWorkPort


@dataclass(frozen=True)
class RegisterProvider:
    name: str
    kind: str
    country: str
    regions: tuple[str, ...] = ()
    contact: str | None = None


@dataclass(frozen=True)
class ReviseProvider:
    provider_id: UUID
    # Only the fields the caller sent; `contact` may be None to clear it.
    changes: Mapping[str, object] = field(default_factory=dict)
    # Set when a provider principal acts: it may revise its own provider and no other.
    acting_provider_id: UUID | None = None


async def register_provider(
    command: RegisterProvider, uow: CreditProductsUnitOfWorkPort
) -> Provider:
    provider, registered = Provider.register(
        name=command.name,
        kind=command.kind,
        country=command.country,
        regions=command.regions,
        contact=command.contact,
        now=utcnow(),
    )
    uow.providers.add(provider)
    uow.emit(provider, registered)
    await uow.commit(provider)
    return provider


async def revise_provider(command: ReviseProvider, uow: CreditProductsUnitOfWorkPort) -> Provider:
    """A revision that changes nothing bumps no version and emits no event."""
    acting_for_itself = command.acting_provider_id is not None
    if acting_for_itself and command.acting_provider_id != command.provider_id:
        # Another provider's record is not yours: it answers as if it did not exist.
        raise NotFound("no such provider")
    provider = await uow.providers.get_for_update(command.provider_id)
    if provider is None:
        raise NotFound("no such provider")
    updated = provider.revise(command.changes, by_admin=not acting_for_itself, now=utcnow())
    if updated is None:
        return provider
    uow.providers.save(provider)
    uow.emit(provider, updated)
    await uow.commit(provider)
    return provider


@dataclass(frozen=True)
class CreateProduct:
    provider_id: UUID
    terms: ProductTerms


@dataclass(frozen=True)
class ReviseProduct:
    product_id: UUID
    provider_id: UUID
    # Only the fields sent; each replaces the version's field whole (eligibility included).
    changes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishProduct:
    product_id: UUID
    provider_id: UUID


@dataclass(frozen=True)
class WithdrawProduct:
    product_id: UUID
    provider_id: UUID


async def _active_provider(uow: CreditProductsUnitOfWorkPort, provider_id: UUID) -> Provider:
    provider = await uow.providers.get(provider_id)
    if provider is None:
        raise Conflict(
            "no provider with your provider_id is registered; an admin registers it first",
            kind="unknown-provider",
        )
    if provider.status != "active":
        raise Conflict("a suspended provider publishes nothing", kind="provider-suspended")
    return provider


async def _own_product(
    uow: CreditProductsUnitOfWorkPort, product_id: UUID, provider_id: UUID
) -> Product:
    product = await uow.products.get_for_update(product_id)
    if product is None or product.provider_id != provider_id:
        # Another provider's product answers as if it did not exist.
        raise NotFound("no such product")
    return product


async def create_product(command: CreateProduct, uow: CreditProductsUnitOfWorkPort) -> Product:
    """A draft of version 1; drafts are the provider's own, so nothing is published yet."""
    await _active_provider(uow, command.provider_id)
    product = Product.create(provider_id=command.provider_id, terms=command.terms, now=utcnow())
    uow.products.add(product)
    await uow.commit(product)
    return product


async def revise_product(command: ReviseProduct, uow: CreditProductsUnitOfWorkPort) -> Product:
    """Change the draft, or start the next version's draft; the published version stays."""
    product = await _own_product(uow, command.product_id, command.provider_id)
    if product.revise(command.changes, now=utcnow()):
        uow.products.save(product)
        await uow.commit(product)
    return product


async def publish_product(command: PublishProduct, uow: CreditProductsUnitOfWorkPort) -> Product:
    product = await _own_product(uow, command.product_id, command.provider_id)
    await _active_provider(uow, command.provider_id)
    published = product.publish(now=utcnow())
    uow.products.save(product)
    uow.emit(product, published)
    await uow.commit(product)
    return product


async def withdraw_product(command: WithdrawProduct, uow: CreditProductsUnitOfWorkPort) -> Product:
    product = await _own_product(uow, command.product_id, command.provider_id)
    withdrawn = product.withdraw(now=utcnow())
    uow.products.save(product)
    uow.emit(product, withdrawn)
    await uow.commit(product)
    return product
