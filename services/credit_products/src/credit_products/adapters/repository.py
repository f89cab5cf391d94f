from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from tasdir.db import Repository
from tasdir.pagination import Page, PageParams, paginate

from credit_products.adapters.orm import Provider


class ProviderRepository(Repository[Provider]):
    model = Provider

    async def get_for_update(self, provider_id: Any) -> Provider | None:
        """The provider, row-locked until commit on PostgreSQL, so that two concurrent changes
        never both become version N + 1. SQLite has one writer at a time anyway."""
        return await self.session.get(
            Provider, provider_id, with_for_update=True, populate_existing=True
        )

    async def page(self, params: PageParams) -> Page[Provider]:
        """Oldest first; the id breaks ties, so the order is total and stable across pages."""
        return await paginate(
            self.session,
            select(Provider),
            params,
            order_by=(col(Provider.created_at), col(Provider.id)),
        )
