"""All queries of credit_products. None of them commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from tasdir.db import AggregateRepository
from tasdir.pagination import Page, PageParams, decode_cursor, encode_cursor

from credit_products.adapters.documents import terms_document, terms_from_document
from credit_products.adapters.orm import ProductRow, ProductVersionRow, ProviderRow
from credit_products.domain.product import Product, ProductVersion
from credit_products.domain.provider import Provider


class ProviderRepository(AggregateRepository[Provider, ProviderRow]):
    aggregate = Provider
    row_model = ProviderRow

    async def listing(self, params: PageParams) -> Page[Provider]:
        """Oldest first; the id breaks ties, so the order is total and stable across pages."""
        return await self.page(params, order_by=(col(ProviderRow.created_at), col(ProviderRow.id)))


class ProductRepository:
    """Products with their versions: a `ProductRow` and one `ProductVersionRow` per version."""

    BATCH = 200

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: dict[UUID, ProductRow] = {}
        self._version_rows: dict[tuple[UUID, int], ProductVersionRow] = {}

    async def _versions(self, ids: Sequence[UUID]) -> dict[UUID, list[ProductVersionRow]]:
        found: dict[UUID, list[ProductVersionRow]] = {key: [] for key in ids}
        if not ids:
            return found
        query = (
            select(ProductVersionRow)
            .where(col(ProductVersionRow.product_id).in_(list(ids)))
            .order_by(col(ProductVersionRow.product_id), col(ProductVersionRow.number))
        )
        for row in (await self.session.exec(query)).all():
            found[row.product_id].append(row)
            self._version_rows[(row.product_id, row.number)] = row
        return found

    def _product(self, row: ProductRow, versions: Sequence[ProductVersionRow]) -> Product:
        self._rows[row.id] = row
        return Product(
            id=row.id,
            provider_id=row.provider_id,
            status=row.status,
            version=row.version,
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
            versions=[
                ProductVersion(
                    number=v.number,
                    status=v.status,
                    terms=terms_from_document(v.terms),
                    created_at=_aware(v.created_at),
                    updated_at=_aware(v.updated_at),
                    published_at=_aware(v.published_at) if v.published_at else None,
                    withdrawn_at=_aware(v.withdrawn_at) if v.withdrawn_at else None,
                )
                for v in versions
            ],
        )

    async def get(self, key: UUID) -> Product | None:
        row = await self.session.get(ProductRow, key)
        if row is None:
            return None
        return self._product(row, (await self._versions([row.id]))[row.id])

    async def get_for_update(self, key: UUID) -> Product | None:
        """The product, its row locked until commit on PostgreSQL: two revisions of one product
        never both make version N + 1."""
        row = await self.session.get(ProductRow, key, with_for_update=True, populate_existing=True)
        if row is None:
            return None
        return self._product(row, (await self._versions([row.id]))[row.id])

    def add(self, product: Product) -> None:
        row = ProductRow(
            id=product.id,
            provider_id=product.provider_id,
            status=product.status,
            version=product.version,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )
        self.session.add(row)
        self._rows[product.id] = row
        self._save_versions(product)

    def save(self, product: Product) -> None:
        row = self._rows.get(product.id)
        if row is None:
            raise LookupError("save() takes a product this repository loaded")
        row.status = product.status
        row.version = product.version
        row.updated_at = product.updated_at
        self.session.add(row)
        self._save_versions(product)

    def _save_versions(self, product: Product) -> None:
        for version in product.versions:
            key = (product.id, version.number)
            row = self._version_rows.get(key)
            if row is None:
                row = ProductVersionRow(
                    product_id=product.id,
                    number=version.number,
                    status=version.status,
                    instrument=version.terms.instrument,
                    terms=terms_document(version.terms),  # type: ignore[arg-type]
                    created_at=version.created_at,
                    updated_at=version.updated_at,
                )
                self._version_rows[key] = row
            row.status = version.status
            row.instrument = version.terms.instrument
            row.terms = terms_document(version.terms)  # type: ignore[assignment]
            row.updated_at = version.updated_at
            row.published_at = version.published_at
            row.withdrawn_at = version.withdrawn_at
            self.session.add(row)

    async def catalogue(
        self,
        params: PageParams,
        *,
        owner: UUID | None,
        keep: Callable[[Product], bool],
    ) -> Page[Product]:
        """Published products, and `owner`'s own in any status, that `keep` accepts; oldest
        first. The rows are read in batches until a page is full, so a page never loads the
        whole catalogue."""
        order = (col(ProductRow.created_at), col(ProductRow.id))
        visible = col(ProductRow.status) == "published"
        if owner is not None:
            visible = or_(visible, col(ProductRow.provider_id) == owner)
        after: list[object] | None = (
            decode_cursor(params.cursor, order) if params.cursor is not None else None
        )
        kept: list[Product] = []
        while len(kept) <= params.limit:
            query = select(ProductRow).where(visible)
            if after is not None:
                query = query.where(
                    or_(
                        col(ProductRow.created_at) > after[0],
                        and_(col(ProductRow.created_at) == after[0], col(ProductRow.id) > after[1]),
                    )
                )
            rows = list((await self.session.exec(query.order_by(*order).limit(self.BATCH))).all())
            if not rows:
                break
            versions = await self._versions([row.id for row in rows])
            for row in rows:
                product = self._product(row, versions[row.id])
                if keep(product):
                    kept.append(product)
                    if len(kept) > params.limit:
                        break
            last = rows[-1]
            after = [last.created_at, last.id]
            if len(rows) < self.BATCH:
                break
        page = kept[: params.limit]
        next_cursor = None
        if len(kept) > params.limit:
            next_cursor = encode_cursor([page[-1].created_at, page[-1].id])
        return Page(items=page, next_cursor=next_cursor)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
