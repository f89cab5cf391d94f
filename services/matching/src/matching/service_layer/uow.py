from __future__ import annotations

from tasdir.db import UnitOfWork

from matching.adapters.repository import (
    AccessLogRepository,
    AuditRepository,
    CatalogueSeq,
    ConsentProjectionRepository,
    ExporterProjectionRepository,
    MatchEntryRepository,
    MatchSetRepository,
    NotificationRepository,
    ProductProjectionRepository,
    ProviderProjectionRepository,
    ReferralRepository,
    RequestProjectionRepository,
)


class MatchingUnitOfWork(UnitOfWork):
    exporters: ExporterProjectionRepository
    providers: ProviderProjectionRepository
    products: ProductProjectionRepository
    requests: RequestProjectionRepository
    consents: ConsentProjectionRepository
    catalogue: CatalogueSeq
    match_sets: MatchSetRepository
    entries: MatchEntryRepository
    audit: AuditRepository
    referrals: ReferralRepository
    access_log: AccessLogRepository
    notifications: NotificationRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterProjectionRepository(self.session)
        self.providers = ProviderProjectionRepository(self.session)
        self.products = ProductProjectionRepository(self.session)
        self.requests = RequestProjectionRepository(self.session)
        self.consents = ConsentProjectionRepository(self.session)
        self.catalogue = CatalogueSeq(self.session)
        self.match_sets = MatchSetRepository(self.session)
        self.entries = MatchEntryRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.referrals = ReferralRepository(self.session)
        self.access_log = AccessLogRepository(self.session)
        self.notifications = NotificationRepository(self.session)
