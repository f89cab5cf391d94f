from __future__ import annotations

from sqlmodel import select
from tasdir.db import Repository, VersionedProjection

from exporters.adapters.orm import Exporter, ProviderProjection


class ExporterRepository(Repository[Exporter]):
    model = Exporter

    async def by_org(self, org: str) -> Exporter | None:
        result = await self.session.exec(select(Exporter).where(Exporter.org == org))
        return result.first()

    async def by_ice(self, ice: str) -> Exporter | None:
        result = await self.session.exec(select(Exporter).where(Exporter.ice == ice))
        return result.first()


class ProviderProjectionRepository(VersionedProjection[ProviderProjection]):
    model = ProviderProjection
