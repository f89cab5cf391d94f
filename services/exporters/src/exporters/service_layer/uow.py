from __future__ import annotations

from tasdir.db import UnitOfWork

from exporters.adapters.repository import ExporterRepository, ProviderProjectionRepository


class ExportersUnitOfWork(UnitOfWork):
    exporters: ExporterRepository
    providers: ProviderProjectionRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterRepository(self.session)
        self.providers = ProviderProjectionRepository(self.session)
