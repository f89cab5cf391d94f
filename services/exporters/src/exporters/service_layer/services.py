"""Use cases of exporters: load, ask the aggregate, hand the result to the unit of work.

They take plain commands and a unit of work, never an HTTP type, so the unit tests run them on
fakes without a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasdir.contracts import utcnow
from tasdir.errors import Conflict

from exporters.domain.exporter import Exporter
from exporters.service_layer.uow import ExportersUnitOfWorkPort


@dataclass(frozen=True)
class RegisterExporter:
    org: str
    legal_name: str
    ice: str
    region: str


async def register_exporter(command: RegisterExporter, uow: ExportersUnitOfWorkPort) -> Exporter:
    exporter, registered = Exporter.register(
        org=command.org,
        legal_name=command.legal_name,
        ice=command.ice,
        region=command.region,
        now=utcnow(),
    )
    # The database's unique keys settle a race between two registrations (a 409 as well);
    # these checks give the usual case its precise answer.
    if await uow.exporters.by_org(command.org) is not None:
        raise Conflict("this organisation already has an exporter profile", kind="duplicate")
    if await uow.exporters.by_ice(exporter.ice) is not None:
        raise Conflict("an exporter with this ICE is already registered", kind="duplicate-ice")
    uow.exporters.add(exporter)
    uow.emit(exporter, registered)
    await uow.commit(exporter)
    return exporter
