"""Use cases of the exporters service. They change state and write events; the UoW commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasdir.contracts import events, utcnow
from tasdir.errors import Conflict, Invalid

from exporters.adapters.orm import Exporter
from exporters.domain.exporter import is_valid_ice
from exporters.service_layer.uow import ExportersUnitOfWork

if TYPE_CHECKING:
    from tasdir.idempotency import IdempotentRequest


@dataclass(frozen=True)
class RegisterExporter:
    org: str
    legal_name: str
    ice: str
    region: str


def snapshot(exporter: Exporter) -> dict[str, object]:
    return {
        "id": exporter.id,
        "org": exporter.org,
        "status": exporter.status,
        "legal_name": exporter.legal_name,
        "ice": exporter.ice,
        "region": exporter.region,
    }


async def register_exporter(
    command: RegisterExporter,
    uow: ExportersUnitOfWork,
    *,
    idempotency: IdempotentRequest | None = None,
) -> Exporter:
    if not is_valid_ice(command.ice):
        raise Invalid("ice must be 15 digits", kind="invalid-ice")
    if await uow.exporters.by_org(command.org) is not None:
        raise Conflict("this organisation already has an exporter profile", kind="duplicate")
    if await uow.exporters.by_ice(command.ice) is not None:
        raise Conflict("an exporter with this ICE is already registered", kind="duplicate-ice")
    now = utcnow()
    exporter = uow.exporters.add(
        Exporter(
            org=command.org,
            legal_name=command.legal_name,
            ice=command.ice,
            region=command.region,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    uow.outbox.add(
        events.ExporterRegistered.model_validate(snapshot(exporter)),
        aggregate_id=exporter.id,
        aggregate_version=exporter.version,
    )
    if idempotency is not None:
        # The stored response commits with the exporter, or neither does.
        idempotency.record(uow, snapshot(exporter))
    await uow.commit()
    return exporter
