from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from tasdir.db import Repository, VersionedProjection
from tasdir.pagination import Page, PageParams, paginate

from matching.adapters.orm import (
    CatalogueState,
    ConsentProjection,
    ExporterProjection,
    MatchEntry,
    MatchSet,
    ProductProjection,
    ProviderProjection,
    RequestProjection,
)

P = TypeVar("P", ExporterProjection, ProviderProjection, ProductProjection, RequestProjection)


class _Changes(VersionedProjection[P]):
    """A projection whose rows record the `catalogue_seq` of their last change."""

    async def mark_changed(self, key: UUID, seq: int) -> None:
        table = self.model.__table__
        (primary,) = table.primary_key.columns
        await self.session.exec(update(table).where(primary == key).values(changed_seq=seq))

    async def changed_since(self, seq: int) -> Sequence[P]:
        """The rows changed after `seq` (every row for -1)."""
        query = select(self.model).where(col(self.model.changed_seq) > seq)
        return (await self.session.exec(query)).all()


class ExporterProjectionRepository(_Changes[ExporterProjection]):
    model = ExporterProjection


class ProviderProjectionRepository(_Changes[ProviderProjection]):
    model = ProviderProjection


class ProductProjectionRepository(_Changes[ProductProjection]):
    model = ProductProjection

    async def of_providers(self, provider_ids: Sequence[UUID]) -> Sequence[ProductProjection]:
        query = select(ProductProjection).where(
            col(ProductProjection.provider_id).in_(provider_ids)
        )
        return (await self.session.exec(query)).all()


class RequestProjectionRepository(_Changes[RequestProjection]):
    model = RequestProjection

    async def of_exporter(self, exporter_id: UUID) -> Sequence[RequestProjection]:
        query = select(RequestProjection).where(RequestProjection.exporter_id == exporter_id)
        return (await self.session.exec(query)).all()


class ConsentProjectionRepository(VersionedProjection[ConsentProjection]):
    model = ConsentProjection


class CatalogueSeq:
    """The counter of catalogue and request changes, bumped in the handler's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump(self) -> int:
        """One step; concurrent bumps serialise on the row (a single active consumer anyway)."""
        result = await self.session.exec(
            update(CatalogueState)
            .where(col(CatalogueState.id) == 1)
            .values(seq=col(CatalogueState.seq) + 1)
            .returning(col(CatalogueState.seq))
        )
        return int(result.scalar_one())

    async def current(self) -> int:
        row = await self.session.get(CatalogueState, 1)
        return 0 if row is None else row.seq


class MatchEntryRepository:
    """Which products each match set holds."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def requests_with(self, product_id: UUID) -> list[UUID]:
        query = select(MatchEntry.request_id).where(MatchEntry.product_id == product_id)
        return list((await self.session.exec(query)).all())

    async def replace(self, request_id: UUID, product_ids: Sequence[UUID]) -> None:
        await self.session.exec(delete(MatchEntry).where(col(MatchEntry.request_id) == request_id))
        self.session.add_all(MatchEntry(request_id=request_id, product_id=p) for p in product_ids)


class MatchSetRepository(Repository[MatchSet]):
    model = MatchSet

    async def get_for_update(self, request_id: UUID) -> MatchSet | None:
        query = select(MatchSet).where(MatchSet.request_id == request_id).with_for_update()
        return (await self.session.exec(query)).first()

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
