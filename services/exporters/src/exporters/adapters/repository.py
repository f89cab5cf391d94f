"""All queries of exporters. None of them commits."""

from __future__ import annotations

from sqlmodel import select
from tasdir.db import AggregateRepository, VersionedProjection

from exporters.adapters.orm import ExporterRow, ProviderProjection
from exporters.domain.exporter import Exporter


class ExporterRepository(AggregateRepository[Exporter, ExporterRow]):
    aggregate = Exporter
    row_model = ExporterRow

    async def by_org(self, org: str) -> Exporter | None:
        return await self.first(select(ExporterRow).where(ExporterRow.org == org))

    async def by_ice(self, ice: str) -> Exporter | None:
        return await self.first(select(ExporterRow).where(ExporterRow.ice == ice))


class ProviderProjectionRepository(VersionedProjection[ProviderProjection]):
    model = ProviderProjection
