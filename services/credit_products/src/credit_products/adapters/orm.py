"""The credit_products database. Providers and products arrive with their domain issue."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from tasdir.db import messaging_tables


class CreditProductsModel(SQLModel, registry=registry()):
    pass


tables = messaging_tables(CreditProductsModel)
metadata = CreditProductsModel.metadata
