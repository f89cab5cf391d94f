"""Event handlers of matching. Each runs inside the consumer's unit of work and never commits."""

from __future__ import annotations

from tasdir.contracts import Envelope, events, utcnow

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


HANDLERS = {
    events.ExporterRegistered.event_type: project_exporter,
    events.ExporterUpdated.event_type: project_exporter,
    events.ExporterDeactivated.event_type: project_exporter,
}
