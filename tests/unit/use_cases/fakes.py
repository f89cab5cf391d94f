"""Fake units of work and repositories: the use cases run on these in memory, with no I/O.

A fake repository keeps copies, so that a use case that changes an aggregate without saving
it is caught, as it would be against a database.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID

from credit_products.domain.product import Product
from credit_products.domain.provider import Provider
from exporters.domain.consent import Consent
from exporters.domain.exporter import Exporter
from exporters.domain.financing_request import FinancingRequest
from tasdir.contracts import IntegrationEvent
from tasdir.db import Aggregate

A = TypeVar("A")


@dataclass
class Emitted:
    aggregate_id: UUID
    aggregate_version: int
    event: IntegrationEvent


@dataclass
class FakeUnitOfWorkBase:
    emitted: list[Emitted] = field(default_factory=list)
    pending: list[Emitted] = field(default_factory=list)
    commits: int = 0
    results: list[object] = field(default_factory=list)

    def emit(self, aggregate: Aggregate, event: IntegrationEvent) -> Emitted:
        emitted = Emitted(aggregate.id, aggregate.version, event)
        self.pending.append(emitted)
        return emitted

    async def commit(self, result: object = None) -> None:
        self.commits += 1
        self.results.append(result)
        self.emitted += self.pending
        self.pending = []
        self._flush()

    def _flush(self) -> None:
        """Make what was added or saved durable."""


class FakeStore(Generic[A]):
    """Committed copies of aggregates by id, and what the current unit of work staged."""

    def __init__(self, *existing: A) -> None:
        self.committed: dict[UUID, A] = {a.id: copy.deepcopy(a) for a in existing}  # type: ignore[attr-defined]
        self.staged: dict[UUID, A] = {}

    async def get(self, key: UUID) -> A | None:
        found = self.committed.get(key)
        return copy.deepcopy(found) if found else None

    async def get_for_update(self, key: UUID) -> A | None:
        return await self.get(key)

    def add(self, aggregate: A) -> None:
        self.staged[aggregate.id] = copy.deepcopy(aggregate)  # type: ignore[attr-defined]

    def save(self, aggregate: A) -> None:
        self.staged[aggregate.id] = copy.deepcopy(aggregate)  # type: ignore[attr-defined]

    def flush(self) -> None:
        self.committed.update(self.staged)
        self.staged = {}


class FakeProviders:
    def __init__(self, *existing: Provider) -> None:
        self.committed: dict[UUID, Provider] = {p.id: copy.deepcopy(p) for p in existing}
        self.staged: dict[UUID, Provider] = {}

    async def get(self, key: UUID) -> Provider | None:
        found = self.committed.get(key)
        return copy.deepcopy(found) if found else None

    async def get_for_update(self, key: UUID) -> Provider | None:
        return await self.get(key)

    def add(self, aggregate: Provider) -> None:
        self.staged[aggregate.id] = copy.deepcopy(aggregate)

    def save(self, aggregate: Provider) -> None:
        self.staged[aggregate.id] = copy.deepcopy(aggregate)


@dataclass
class FakeCreditProductsUnitOfWork(FakeUnitOfWorkBase):
    providers: FakeProviders = field(default_factory=FakeProviders)
    products: FakeStore[Product] = field(default_factory=lambda: FakeStore[Product]())

    def _flush(self) -> None:
        self.providers.committed.update(self.providers.staged)
        self.providers.staged = {}
        self.products.flush()


class FakeExporters(FakeStore[Exporter]):
    async def by_org(self, org: str) -> Exporter | None:
        found = next((e for e in self.committed.values() if e.org == org), None)
        return copy.deepcopy(found) if found else None

    async def by_ice(self, ice: str) -> Exporter | None:
        found = next((e for e in self.committed.values() if e.ice == ice), None)
        return copy.deepcopy(found) if found else None


class FakeRequests(FakeStore[FinancingRequest]):
    pass


class FakeConsents(FakeStore[Consent]):
    async def of(self, exporter_id: UUID, provider_id: UUID) -> Consent | None:
        for consent in self.committed.values():
            if consent.exporter_id == exporter_id and consent.provider_id == provider_id:
                return copy.deepcopy(consent)
        return None


@dataclass
class FakeKnownProviders:
    known: set[UUID] = field(default_factory=set)

    async def is_known(self, provider_id: UUID) -> bool:
        return provider_id in self.known


@dataclass
class FakeExportersUnitOfWork(FakeUnitOfWorkBase):
    exporters: FakeExporters = field(default_factory=FakeExporters)
    requests: FakeRequests = field(default_factory=FakeRequests)
    consents: FakeConsents = field(default_factory=FakeConsents)
    providers: FakeKnownProviders = field(default_factory=FakeKnownProviders)

    def _flush(self) -> None:
        for store in (self.exporters, self.requests, self.consents):
            store.flush()
