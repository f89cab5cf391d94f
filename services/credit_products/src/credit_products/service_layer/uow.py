from __future__ import annotations

from tasdir.db import UnitOfWork

from credit_products.adapters.repository import ProviderRepository


class CreditProductsUnitOfWork(UnitOfWork):
    providers: ProviderRepository

    def _open_repositories(self) -> None:
        self.providers = ProviderRepository(self.session)
