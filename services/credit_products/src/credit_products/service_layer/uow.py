from __future__ import annotations

from tasdir.db import UnitOfWork


class CreditProductsUnitOfWork(UnitOfWork):
    pass
