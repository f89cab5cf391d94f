"""Wires the credit_products service: its tables, its unit of work and its routes."""

from __future__ import annotations

from pathlib import Path

from tasdir.service import ServiceDefinition

from credit_products.adapters import orm
from credit_products.entrypoints.products import router as products_router
from credit_products.entrypoints.providers import router as providers_router
from credit_products.entrypoints.reference import router as reference_router
from credit_products.service_layer.uow import CreditProductsUnitOfWork

definition = ServiceDefinition(
    name="credit_products",
    metadata=orm.metadata,
    tables=orm.tables,
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    uow_class=CreditProductsUnitOfWork,
    handlers={},
    routers=(providers_router, products_router, reference_router),
)
