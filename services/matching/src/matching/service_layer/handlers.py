"""Event handlers of matching. Each runs inside the consumer's unit of work and never commits."""

from __future__ import annotations

from tasdir.contracts import Envelope, events
from tasdir.messaging.consumer import EventHandler

from matching.service_layer.uow import MatchingUnitOfWork


async def project_exporter(
    envelope: Envelope, event: events.ExporterSnapshot, uow: MatchingUnitOfWork
) -> None:
    await uow.exporters.apply_event(envelope, event)


async def project_provider(
    envelope: Envelope, event: events.ProviderSnapshot, uow: MatchingUnitOfWork
) -> None:
    await uow.providers.apply_event(envelope, event)


async def project_product(
    envelope: Envelope, event: events.ProductSnapshot, uow: MatchingUnitOfWork
) -> None:
    await uow.products.apply_event(envelope, event)


HANDLERS: dict[str, EventHandler[MatchingUnitOfWork]] = {
    events.ExporterRegistered.event_type: project_exporter,
    events.ExporterUpdated.event_type: project_exporter,
    events.ExporterDeactivated.event_type: project_exporter,
    events.ProviderRegistered.event_type: project_provider,
    events.ProviderUpdated.event_type: project_provider,
    events.ProductPublished.event_type: project_product,
    events.ProductWithdrawn.event_type: project_product,
}
