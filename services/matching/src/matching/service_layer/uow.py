from __future__ import annotations

from tasdir.db import UnitOfWork

from matching.adapters.repository import ExporterProjectionRepository


class MatchingUnitOfWork(UnitOfWork):
    exporters: ExporterProjectionRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterProjectionRepository(self.session)
