"""Fake units of work and repositories: the use cases run on these in memory, with no I/O.

A fake repository keeps copies, so that a use case that changes an aggregate without saving
it is caught, as it would be against a database.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from uuid import UUID

from credit_products.domain.provider import Provider
from exporters.domain.exporter import Exporter
from tasdir.contracts import IntegrationEvent
from tasdir.db import Aggregate


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

    def _flush(self) -> None:
        self.providers.committed.update(self.providers.staged)
        self.providers.staged = {}


class FakeExporters:
    def __init__(self, *existing: Exporter) -> None:
        self.committed: dict[UUID, Exporter] = {e.id: copy.deepcopy(e) for e in existing}
        self.staged: dict[UUID, Exporter] = {}

    async def by_org(self, org: str) -> Exporter | None:
        return next((e for e in self.committed.values() if e.org == org), None)

    async def by_ice(self, ice: str) -> Exporter | None:
        return next((e for e in self.committed.values() if e.ice == ice), None)

    def add(self, aggregate: Exporter) -> None:
        self.staged[aggregate.id] = copy.deepcopy(aggregate)


@dataclass
class FakeExportersUnitOfWork(FakeUnitOfWorkBase):
    exporters: FakeExporters = field(default_factory=FakeExporters)

    def _flush(self) -> None:
        self.exporters.committed.update(self.exporters.staged)
        self.exporters.staged = {}
