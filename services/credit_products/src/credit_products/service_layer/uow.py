"""The unit of work of credit_products, and the port its use cases are written against."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from tasdir.db import UnitOfWork, UnitOfWorkPort

from credit_products.adapters.repository import ProductRepository, ProviderRepository
from credit_products.domain.product import Product
from credit_products.domain.provider import Provider


class Providers(Protocol):
    async def get(self, key: UUID) -> Provider | None: ...

    async def get_for_update(self, key: UUID) -> Provider | None: ...

    def add(self, aggregate: Provider) -> None: ...

    def save(self, aggregate: Provider) -> None: ...


class Products(Protocol):
    async def get(self, key: UUID) -> Product | None: ...

    async def get_for_update(self, key: UUID) -> Product | None: ...

    def add(self, product: Product) -> None: ...

    def save(self, product: Product) -> None: ...


class CreditProductsUnitOfWorkPort(UnitOfWorkPort, Protocol):
    @property
    def providers(self) -> Providers: ...

    @property
    def products(self) -> Products: ...


class CreditProductsUnitOfWork(UnitOfWork):
    providers: ProviderRepository
    products: ProductRepository

    def _open_repositories(self) -> None:
        self.providers = ProviderRepository(self.session)
        self.products = ProductRepository(self.session)
