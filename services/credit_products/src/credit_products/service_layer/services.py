"""Use cases of the credit_products service. They change state and write events; the UoW commits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tasdir.contracts import events, utcnow
from tasdir.errors import Invalid, NotFound

from credit_products.adapters.orm import Provider
from credit_products.domain.provider import KINDS, checked_country, checked_regions
from credit_products.service_layer.uow import CreditProductsUnitOfWork

if TYPE_CHECKING:
    from tasdir.idempotency import IdempotentRequest

EDITABLE = ("name", "kind", "country", "regions", "contact")
NULLABLE = frozenset({"contact"})


@dataclass(frozen=True)
class RegisterProvider:
    name: str
    kind: str
    country: str
    regions: tuple[str, ...] = ()
    contact: str | None = None


@dataclass(frozen=True)
class UpdateProvider:
    provider_id: UUID
    # Only the fields the caller sent; `contact` may be set to None to clear it.
    changes: Mapping[str, Any] = field(default_factory=dict)
    # Set when a provider principal acts: it may change its own provider and no other.
    acting_provider_id: str | None = None


def snapshot(provider: Provider) -> dict[str, Any]:
    """The event payload: the whole provider, as `events.ProviderSnapshot` has it."""
    return {
        "id": provider.id,
        "name": provider.name,
        "kind": provider.kind,
        "country": provider.country,
        "regions": list(provider.regions),
        "contact": provider.contact,
        "status": provider.status,
    }


def representation(provider: Provider) -> dict[str, Any]:
    """What the API answers: the snapshot and the version."""
    return {**snapshot(provider), "version": provider.version}


def _kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return value


_RULES: dict[str, Callable[[Any], Any]] = {
    "kind": _kind,
    "country": checked_country,
    "regions": checked_regions,
}


def _validated(name: str, value: Any) -> Any:
    """The value as the provider stores it; a 422 naming the field otherwise.

    The HTTP schemas check the same rules first; this keeps a use case safe from other callers.
    """
    try:
        if value is None:
            if name in NULLABLE:
                return None
            raise ValueError(f"{name} may not be null")
        rule = _RULES.get(name)
        return value if rule is None else rule(value)
    except ValueError as exc:
        raise Invalid(
            str(exc),
            kind="invalid-provider",
            errors=[{"field": name, "in": "body", "message": str(exc), "code": "value_error"}],
        ) from None


async def register_provider(
    command: RegisterProvider,
    uow: CreditProductsUnitOfWork,
    *,
    idempotency: IdempotentRequest | None = None,
) -> Provider:
    now = utcnow()
    provider = uow.providers.add(
        Provider(
            name=_validated("name", command.name),
            kind=_validated("kind", command.kind),
            country=_validated("country", command.country),
            regions=_validated("regions", command.regions),
            contact=command.contact,
            status="active",
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    uow.outbox.add(
        events.ProviderRegistered.model_validate(snapshot(provider)),
        aggregate_id=provider.id,
        aggregate_version=provider.version,
    )
    if idempotency is not None:
        # The stored response commits with the provider, or neither does.
        idempotency.record(uow, representation(provider))
    await uow.commit()
    return provider


async def update_provider(command: UpdateProvider, uow: CreditProductsUnitOfWork) -> Provider:
    """Apply the changes; a change that changes nothing bumps no version and emits no event."""
    if command.acting_provider_id is not None and command.acting_provider_id != str(
        command.provider_id
    ):
        # Another provider's record is not yours: it answers as if it did not exist.
        raise NotFound("no such provider")
    provider = await uow.providers.get_for_update(command.provider_id)
    if provider is None:
        raise NotFound("no such provider")
    unknown = sorted(set(command.changes) - set(EDITABLE))
    if unknown:
        raise Invalid(f"not editable: {', '.join(unknown)}", kind="invalid-provider")
    changed = False
    for name, value in command.changes.items():
        value = _validated(name, value)
        if getattr(provider, name) != value:
            setattr(provider, name, value)
            changed = True
    if not changed:
        return provider
    provider.version += 1
    provider.updated_at = utcnow()
    uow.providers.add(provider)
    uow.outbox.add(
        events.ProviderUpdated.model_validate(snapshot(provider)),
        aggregate_id=provider.id,
        aggregate_version=provider.version,
    )
    await uow.commit()
    return provider
