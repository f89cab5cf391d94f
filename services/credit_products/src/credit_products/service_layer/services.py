"""Use cases of credit_products: load, ask the aggregate, hand the result to the unit of work.

They take plain commands and a unit of work, never an HTTP type, so the unit tests run them on
fakes without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from tasdir.contracts import utcnow
from tasdir.errors import NotFound

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
