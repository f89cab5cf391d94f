"""The unit of work of exporters, and the port its use cases are written against."""

from __future__ import annotations

from typing import Protocol

from tasdir.db import UnitOfWork, UnitOfWorkPort

from exporters.adapters.repository import ExporterRepository, ProviderProjectionRepository
from exporters.domain.exporter import Exporter


class Exporters(Protocol):
    async def by_org(self, org: str) -> Exporter | None: ...

    async def by_ice(self, ice: str) -> Exporter | None: ...

    def add(self, aggregate: Exporter) -> None: ...


class ExportersUnitOfWorkPort(UnitOfWorkPort, Protocol):
    @property
    def exporters(self) -> Exporters: ...


class ExportersUnitOfWork(UnitOfWork):
    exporters: ExporterRepository
    providers: ProviderProjectionRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterRepository(self.session)
        self.providers = ProviderProjectionRepository(self.session)
