from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from tasdir.db import Repository, VersionedProjection
from tasdir.pagination import Page, PageParams, paginate

from matching.adapters.orm import (
    ExporterProjection,
    MatchSet,
    ProductProjection,
    ProviderProjection,
)


class ExporterProjectionRepository(VersionedProjection[ExporterProjection]):
    model = ExporterProjection


class ProviderProjectionRepository(VersionedProjection[ProviderProjection]):
    model = ProviderProjection


class ProductProjectionRepository(VersionedProjection[ProductProjection]):
    model = ProductProjection


class MatchSetRepository(Repository[MatchSet]):
    model = MatchSet

    async def queue(
        self,
        params: PageParams,
        *,
        regions: Sequence[str] | None,
        status: str | None,
    ) -> Page[MatchSet]:
        """Match sets, oldest first; `regions=None` means every region."""
        query = select(MatchSet)
        if regions is not None:
            query = query.where(col(MatchSet.region).in_(regions))
        if status is not None:
            query = query.where(MatchSet.status == status)
        order = (col(MatchSet.computed_at), col(MatchSet.request_id))
        return await paginate(self.session, query, params, order_by=order)
