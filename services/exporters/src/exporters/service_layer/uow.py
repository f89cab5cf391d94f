from __future__ import annotations

from tasdir.db import UnitOfWork

from exporters.adapters.repository import ExporterRepository


class ExportersUnitOfWork(UnitOfWork):
    exporters: ExporterRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterRepository(self.session)
