"""Event fixtures in the catalogue's own shapes."""

from __future__ import annotations

from uuid import uuid4

from tasdir.contracts import Envelope, events


def exporter_event(
    model: type[events.ExporterSnapshot] = events.ExporterUpdated,
    *,
    exporter_id: str | None = None,
    version: int = 1,
    name: str = "Atlas Agrumes SARL",
) -> Envelope:
    exporter_id = exporter_id or str(uuid4())
    snapshot = model(
        id=exporter_id,
        org=f"org-{exporter_id[:8]}",
        status="active",
        legal_name=name,
        ice="001234567000089",
        region="souss-massa",
    )
    return Envelope.wrap(
        snapshot,
        producer="exporters",
        aggregate_id=exporter_id,
        aggregate_version=version,
        correlation_id=str(uuid4()),
    )
