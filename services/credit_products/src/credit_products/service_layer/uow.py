"""The unit of work of credit_products, and the port its use cases are written against."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from tasdir.db import UnitOfWork, UnitOfWorkPort

from credit_products.adapters.repository import ProviderRepository
from credit_products.domain.provider import Provider


class Providers(Protocol):
    async def get(self, key: UUID) -> Provider | None: ...

    async def get_for_update(self, key: UUID) -> Provider | None: ...

    def add(self, aggregate: Provider) -> None: ...

    def save(self, aggregate: Provider) -> None: ...


class CreditProductsUnitOfWorkPort(UnitOfWorkPort, Protocol):
    @property
    def providers(self) -> Providers: ...


class CreditProductsUnitOfWork(UnitOfWork):
    providers: ProviderRepository

    def _open_repositories(self) -> None:
        self.providers = ProviderRepository(self.session)
