"""Event handlers of exporters. Each runs inside the consumer's unit of work and never commits."""

from __future__ import annotations

from tasdir.contracts import Envelope, events
from tasdir.messaging.consumer import EventHandler

from exporters.service_layer.uow import ExportersUnitOfWork


async def project_provider(
    envelope: Envelope, event: events.ProviderSnapshot, uow: ExportersUnitOfWork
) -> None:
    await uow.providers.apply_event(envelope, event)


HANDLERS: dict[str, EventHandler[ExportersUnitOfWork]] = {
    events.ProviderRegistered.event_type: project_provider,
    events.ProviderUpdated.event_type: project_provider,
}
