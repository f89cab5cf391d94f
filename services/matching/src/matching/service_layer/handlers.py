"""Event handlers of matching. Each runs inside the consumer's unit of work and never commits."""

from __future__ import annotations

from typing import Any

from tasdir.contracts import Envelope, events, utcnow
from tasdir.messaging.consumer import EventHandler

from matching.service_layer.uow import MatchingUnitOfWork


async def project_exporter(
    envelope: Envelope, event: events.ExporterSnapshot, uow: MatchingUnitOfWork
) -> None:
    await uow.exporters.apply(
        event.id,
        envelope.aggregate_version,
        {
            "id": event.id,
            "org": event.org,
            "status": event.status,
            "legal_name": event.legal_name,
            "region": event.region,
            "snapshot": event.model_dump_json(),
            "updated_at": utcnow(),
        },
    )


async def project_provider(
    envelope: Envelope, event: events.ProviderSnapshot, uow: MatchingUnitOfWork
) -> None:
    await uow.providers.apply(
        event.id,
        envelope.aggregate_version,
        {
            "id": event.id,
            "name": event.name,
            "kind": event.kind,
            "country": event.country,
            "regions": list(event.regions),
            "status": event.status,
            "snapshot": event.model_dump_json(),
            "updated_at": utcnow(),
        },
    )


HANDLERS: dict[str, EventHandler[Any]] = {
    events.ExporterRegistered.event_type: project_exporter,
    events.ExporterUpdated.event_type: project_exporter,
    events.ExporterDeactivated.event_type: project_exporter,
    events.ProviderRegistered.event_type: project_provider,
    events.ProviderUpdated.event_type: project_provider,
}
