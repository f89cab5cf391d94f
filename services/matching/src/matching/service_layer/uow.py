from __future__ import annotations

from tasdir.db import UnitOfWork

from matching.adapters.repository import (
    ExporterProjectionRepository,
    MatchSetRepository,
    ProductProjectionRepository,
    ProviderProjectionRepository,
)


class MatchingUnitOfWork(UnitOfWork):
    exporters: ExporterProjectionRepository
    providers: ProviderProjectionRepository
    products: ProductProjectionRepository
    match_sets: MatchSetRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterProjectionRepository(self.session)
        self.providers = ProviderProjectionRepository(self.session)
        self.products = ProductProjectionRepository(self.session)
        self.match_sets = MatchSetRepository(self.session)
