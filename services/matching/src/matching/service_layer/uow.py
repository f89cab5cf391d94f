from __future__ import annotations

from tasdir.db import UnitOfWork

from matching.adapters.repository import ExporterProjectionRepository, ProviderProjectionRepository


class MatchingUnitOfWork(UnitOfWork):
    exporters: ExporterProjectionRepository
    providers: ProviderProjectionRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterProjectionRepository(self.session)
        self.providers = ProviderProjectionRepository(self.session)
