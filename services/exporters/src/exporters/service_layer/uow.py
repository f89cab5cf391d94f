"""The unit of work of exporters, and the ports its use cases are written against."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from tasdir.db import UnitOfWork, UnitOfWorkPort

from exporters.adapters.repository import (
    ConsentRepository,
    ExporterRepository,
    FinancingRequestRepository,
    ProviderProjectionRepository,
    ReferralProjectionRepository,
)
from exporters.domain.consent import Consent
from exporters.domain.exporter import Exporter
from exporters.domain.financing_request import FinancingRequest


class Exporters(Protocol):
    async def get(self, key: UUID) -> Exporter | None: ...

    async def get_for_update(self, key: UUID) -> Exporter | None: ...

    async def by_org(self, org: str) -> Exporter | None: ...

    async def by_ice(self, ice: str) -> Exporter | None: ...

    def add(self, aggregate: Exporter) -> None: ...

    def save(self, aggregate: Exporter) -> None: ...


class FinancingRequests(Protocol):
    async def get(self, key: UUID) -> FinancingRequest | None: ...

    async def get_for_update(self, key: UUID) -> FinancingRequest | None: ...

    def add(self, aggregate: FinancingRequest) -> None: ...

    def save(self, aggregate: FinancingRequest) -> None: ...


class Consents(Protocol):
    async def of(self, exporter_id: UUID, provider_id: UUID) -> Consent | None: ...

    def add(self, aggregate: Consent) -> None: ...

    def save(self, aggregate: Consent) -> None: ...


class KnownProviders(Protocol):
    async def is_known(self, provider_id: UUID) -> bool: ...


class ExportersUnitOfWorkPort(UnitOfWorkPort, Protocol):
    @property
    def exporters(self) -> Exporters: ...

    @property
    def requests(self) -> FinancingRequests: ...

    @property
    def consents(self) -> Consents: ...

    @property
    def providers(self) -> KnownProviders: ...


class ExportersUnitOfWork(UnitOfWork):
    exporters: ExporterRepository
    requests: FinancingRequestRepository
    consents: ConsentRepository
    providers: ProviderProjectionRepository
    referrals: ReferralProjectionRepository

    def _open_repositories(self) -> None:
        self.exporters = ExporterRepository(self.session)
        self.requests = FinancingRequestRepository(self.session)
        self.consents = ConsentRepository(self.session)
        self.providers = ProviderProjectionRepository(self.session)
        self.referrals = ReferralProjectionRepository(self.session)
