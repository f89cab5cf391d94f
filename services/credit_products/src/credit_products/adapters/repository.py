"""All queries of credit_products. None of them commits."""

from __future__ import annotations

from sqlmodel import col
from tasdir.db import AggregateRepository
from tasdir.pagination import Page, PageParams

from credit_products.adapters.orm import ProviderRow
from credit_products.domain.provider import Provider


class ProviderRepository(AggregateRepository[Provider, ProviderRow]):
    aggregate = Provider
    row_model = ProviderRow

    async def listing(self, params: PageParams) -> Page[Provider]:
        """Oldest first; the id breaks ties, so the order is total and stable across pages."""
        return await self.page(params, order_by=(col(ProviderRow.created_at), col(ProviderRow.id)))
