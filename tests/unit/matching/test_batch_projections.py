"""Matching's batch form of a projection handler (`Batched.many`, one transaction for a run of
consecutive events) against the same events applied one by one (SQLite): the same projection,
the same match sets and the same match_set events, with each one's correlation id, whatever
the duplicates and the late, older versions in the batch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from matching.adapters.orm import ExporterProjection, MatchSet
from matching.bootstrap import definition
from matching.service_layer.handlers import HANDLERS
from matching.service_layer.matcher import forget_matchers
from sqlmodel import select
from support.apps import sqlite_runtime
from tasdir.contracts import Envelope, events
from tasdir.contracts.base import IntegrationEvent
from tasdir.correlation import bind
from tasdir.messaging import Batched
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from unit.matching.test_match_set_versions import EXPORTER, REQUEST, exporter, product, request

SETTINGS = Settings(environment="development")
OTHER, OTHER_REQUEST = UUID(int=8), UUID(int=98)
Runtime = ServiceRuntime[Any]


def envelope(event: IntegrationEvent, version: int) -> Envelope:
    aggregate_id = str(event.id)  # type: ignore[attr-defined]
    return Envelope.wrap(
        event,
        producer="test",
        aggregate_id=aggregate_id,
        aggregate_version=version,
        correlation_id=f"{aggregate_id}@{version}",
    )


async def apply(runtime: Runtime, items: Sequence[tuple[IntegrationEvent, int]]) -> None:
    """The events in one transaction, as the consumer applies them (the first one's correlation
    id bound, the batch form of their handler if there are several), minus the inbox: so a
    duplicate reaches the handler, and only the projection's version guard stands in its way."""
    pairs = [(envelope(event, version), event) for event, version in items]
    handler = HANDLERS[pairs[0][0].type]
    bind(pairs[0][0].correlation_id, str(pairs[0][0].event_id))
    async with runtime.uow() as uow:
        if len(pairs) > 1:
            assert isinstance(handler, Batched)
            await handler.many(pairs, uow)
        else:
            await handler(*pairs[0], uow)
        await uow.commit()


async def seen(runtime: Runtime) -> tuple[list[Any], list[Any], list[Any]]:
    """The exporters' projection, the match sets and the events sent, as comparable values."""
    outbox = runtime.tables.outbox
    async with runtime.sessions() as session:
        exporters = (await session.exec(select(ExporterProjection))).all()
        sets = (await session.exec(select(MatchSet))).all()
        rows = (await session.exec(select(outbox).order_by(outbox.id))).all()  # type: ignore[arg-type]
    sent = [Envelope.model_validate_json(row.body) for row in rows]
    return (
        sorted((e.id, e.aggregate_version, e.status, e.snapshot) for e in exporters),
        sorted(
            (s.request_id, s.version, s.status, s.matches, s.excluded, s.excluded_total)
            for s in sets
        ),
        [(e.type, e.aggregate_id, e.aggregate_version, e.correlation_id) for e in sent],
    )


@pytest.fixture
async def runtimes(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Runtime]]:
    forget_matchers()
    pair = tuple(
        [await sqlite_runtime(definition, tmp_path, SETTINGS, name=n) for n in ("one", "batch")]
    )
    yield pair  # type: ignore[misc]
    for runtime in pair:
        await runtime.dispose()
    forget_matchers()


def other(**changes: Any) -> events.ExporterUpdated:
    return exporter(id=OTHER, org="org-8", legal_name="Sahara Dattes SARL", **changes)


async def test_a_batch_of_exporter_events_ends_as_one_by_one(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    # Two exporters, a request each; product 2 takes at most 45 employees, product 3 only
    # audited accounts.
    at_start: list[tuple[IntegrationEvent, int]] = [
        (exporter(), 1),
        (other(), 1),
        (product(1), 1),
        (product(2, eligibility={"max_employees": 45}), 1),
        (product(3, eligibility={"requires_audited_accounts": True}), 1),
        (request(), 1),
        (request(id=OTHER_REQUEST, exporter_id=OTHER, org="org-8"), 1),
    ]
    # The first exporter's v2 (no material change) and v3 (product 2 out), v3 again and v2
    # late; the other's v2 (product 3 out), its v1 late, and its v3 (product 3 back).
    batch: list[tuple[IntegrationEvent, int]] = [
        (exporter(employees=41), 2),
        (other(audited_accounts=False), 2),
        (exporter(employees=50), 3),
        (exporter(employees=50), 3),
        (exporter(employees=41), 2),
        (other(), 1),
        (other(employees=30), 3),
    ]
    one, together = runtimes
    for runtime in runtimes:
        for item in at_start:
            await apply(runtime, [item])
    before = await seen(one)
    for item in batch:
        await apply(one, [item])
    await apply(together, batch)

    assert await seen(together) == await seen(one)
    exporters, sets, sent = await seen(together)
    assert [(e[0], e[1]) for e in exporters] == [(EXPORTER, 3), (OTHER, 3)]
    assert [(s[0], s[1]) for s in sets] == [(OTHER_REQUEST, 3), (REQUEST, 2)]
    (of_exporter,) = [s for s in sets if s[0] == REQUEST]
    assert [m["product_id"] for m in of_exporter[3]] == [str(product(n).id) for n in (1, 3)]
    # A new version for each material change, the intermediate one too, in the order of the
    # events, each sent under the correlation id of the event that made it.
    updated = "matching.match_set.updated.v1"
    assert sent[len(before[2]) :] == [
        (updated, str(OTHER_REQUEST), 2, f"{OTHER}@2"),
        (updated, str(REQUEST), 2, f"{EXPORTER}@3"),
        (updated, str(OTHER_REQUEST), 3, f"{OTHER}@3"),
    ]

    # The whole batch again (a redelivery that got past the inbox): nothing changes.
    again = await seen(together)
    await apply(together, batch)
    assert await seen(together) == again
