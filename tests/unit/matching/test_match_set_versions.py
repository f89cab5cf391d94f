"""Matching's handlers on their own (SQLite): a duplicated or out-of-order event never creates a
second version of a match set, and only a material change makes a new one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from matching.adapters.orm import CatalogueState, MatchSet
from matching.bootstrap import definition
from matching.service_layer.handlers import HANDLERS
from matching.service_layer.matcher import forget_matchers
from sqlmodel import select
from support.apps import sqlite_runtime
from tasdir.contracts import Envelope, events
from tasdir.contracts.base import IntegrationEvent
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development")
EXPORTER, BANK, REQUEST = UUID(int=7), UUID(int=1), UUID(int=99)


def product_id(n: int) -> UUID:
    return UUID(int=1000 + n)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime[Any]]:
    forget_matchers()
    runtime = await sqlite_runtime(definition, tmp_path, SETTINGS, name="matching")
    yield runtime
    await runtime.dispose()
    forget_matchers()


async def deliver(runtime: ServiceRuntime[Any], event: IntegrationEvent, version: int) -> None:
    """What the consumer does with one message, minus the inbox (so a duplicate reaches the
    handler, and only the projection's version guard stands in its way)."""
    envelope = Envelope.wrap(
        event,
        producer="test",
        aggregate_id=str(event.id),  # type: ignore[attr-defined]
        aggregate_version=version,
        correlation_id="c",
    )
    async with runtime.uow() as uow:
        await HANDLERS[envelope.type](envelope, event, uow)
        await uow.commit()


def exporter(**changes: Any) -> events.ExporterUpdated:
    fields: dict[str, Any] = {
        "id": EXPORTER,
        "org": "org-7",
        "status": "active",
        "legal_name": "Atlas Agrumes SARL",
        "ice": "001234567000089",
        "region": "souss-massa",
        "employees": 40,
        "years_exporting": 6,
        "audited_accounts": True,
        "exports": [{"hs_code": "0805", "destination": "FR", "share_pct": 100}],
    }
    return events.ExporterUpdated(**{**fields, **changes})


def product(n: int, model: type[events.ProductSnapshot] = events.ProductPublished, **changes: Any):  # type: ignore[no-untyped-def]
    fields: dict[str, Any] = {
        "id": product_id(n),
        "provider_id": BANK,
        "status": "published" if model is events.ProductPublished else "withdrawn",
        "product_version": 1,
        "name": {"fr": f"Prêt {n}", "en": f"Loan {n}"},
        "description": {"fr": "-", "en": "-"},
        "instrument": "pre_export_finance",
        "currencies": ["MAD"],
        "amount_currency": "MAD",
        "amount_max": 10_000_000,
        "pricing": {"indicative_rate_pct": 5.0 + n},
        "decision_days": 10,
    }
    return model(**{**fields, **changes})


def request(
    model: type[events.FinancingRequestSnapshot] = events.FinancingRequestSubmitted, **changes: Any
):  # type: ignore[no-untyped-def]
    fields: dict[str, Any] = {
        "id": REQUEST,
        "exporter_id": EXPORTER,
        "org": "org-7",
        "status": "submitted",
        "region": "souss-massa",
        "instrument": "pre_shipment",
        "amount": 2_000_000,
        "currency": "MAD",
        "tenor_days": 180,
        "destination": "SN",
        "hs_codes": ["0805"],
        "purpose": "new_contract",
        "payment_terms": "lc",
    }
    return model(**{**fields, **changes})


async def state(runtime: ServiceRuntime[Any]) -> tuple[MatchSet | None, list[tuple[str, int]]]:
    outbox = runtime.tables.outbox
    async with runtime.sessions() as session:
        found = await session.get(MatchSet, REQUEST)
        rows = (await session.exec(select(outbox).order_by(outbox.id))).all()  # type: ignore[arg-type]
    sent = [Envelope.model_validate_json(row.body) for row in rows]
    return found, [(e.type.split(".")[2], e.aggregate_version) for e in sent]


async def seq(runtime: ServiceRuntime[Any]) -> int:
    async with runtime.sessions() as session:
        row = await session.get(CatalogueState, 1)
    return 0 if row is None else row.seq


async def test_duplicates_and_late_events_change_nothing(runtime: ServiceRuntime[Any]) -> None:
    await deliver(runtime, exporter(), 1)
    await deliver(runtime, product(1), 1)
    await deliver(runtime, request(), 1)
    found, sent = await state(runtime)
    assert found is not None and found.version == 1
    assert sent == [("proposed", 1)]
    at = await seq(runtime)

    # The same events again, any number of times: no new version, no event, no seq bump.
    for _ in range(2):
        await deliver(runtime, request(), 1)
        await deliver(runtime, product(1), 1)
        await deliver(runtime, exporter(), 1)
    assert (await state(runtime))[1] == [("proposed", 1)]
    assert await seq(runtime) == at

    # An amendment is material (a new version); the submission arriving late again is not.
    await deliver(runtime, request(events.FinancingRequestAmended, tenor_days=90), 2)
    await deliver(runtime, request(), 1)
    found, sent = await state(runtime)
    assert found is not None and found.version == 2
    assert sent == [("proposed", 1), ("updated", 2)]

    # A product's second version then its first, late: the first changes nothing.
    await deliver(runtime, product(1, product_version=2, amount_max=1_000_000), 2)
    found, sent = await state(runtime)
    assert found is not None and found.matches == [] and found.excluded_total == 1
    assert sent[-1] == ("updated", 3)
    await deliver(runtime, product(1), 1)
    assert (await state(runtime))[1] == sent


async def test_only_a_material_change_makes_a_new_version(runtime: ServiceRuntime[Any]) -> None:
    await deliver(runtime, exporter(), 1)
    await deliver(runtime, product(1), 1)
    await deliver(runtime, product(2), 1)
    await deliver(runtime, request(), 1)
    found, _ = await state(runtime)
    assert found is not None
    order = [m["product_id"] for m in found.matches]
    assert order == [str(product_id(1)), str(product_id(2))]

    # A new decision time changes a score, not the ranked list: refreshed in place, where it
    # stands in the advisors' queue.
    first_computed = found.computed_at
    await deliver(runtime, product(2, product_version=2, decision_days=9), 2)
    found, sent = await state(runtime)
    assert found is not None and found.version == 1 and sent == [("proposed", 1)]
    assert found.computed_at == first_computed
    (second,) = [m for m in found.matches if m["product_id"] == str(product_id(2))]
    assert second["score_components"]["speed"] == 0.9  # 1 - 9 / 90
    assert [m["product_id"] for m in found.matches] == order

    # A price cut that puts product 2 first reorders the list: a new version.
    cheaper = {"indicative_rate_pct": 1.0}
    await deliver(runtime, product(2, product_version=3, pricing=cheaper), 3)
    found, sent = await state(runtime)
    assert found is not None and found.version == 2 and sent[-1] == ("updated", 2)
    assert [m["product_id"] for m in found.matches] == [str(product_id(2)), str(product_id(1))]

    # A product withdrawn leaves the list: a new version.
    await deliver(runtime, product(1, events.ProductWithdrawn), 2)
    found, sent = await state(runtime)
    assert found is not None and found.version == 3
    assert [m["product_id"] for m in found.matches] == [str(product_id(2))]

    # The request withdrawn: its set is kept as it was, never re-matched.
    await deliver(runtime, request(events.FinancingRequestWithdrawn, status="withdrawn"), 2)
    await deliver(runtime, product(3), 1)
    found, sent = await state(runtime)
    assert found is not None and found.version == 3 and len(sent) == 3


async def test_a_matcher_rebuilt_from_scratch_agrees_with_the_incremental_one(
    runtime: ServiceRuntime[Any],
) -> None:
    """The consumer's matcher keeps in step incrementally; one built from the projections in a
    new process (here: after `forget_matchers`) computes the same set."""
    await deliver(runtime, exporter(), 1)
    for n in range(1, 6):
        await deliver(runtime, product(n), 1)
    await deliver(runtime, request(), 1)
    await deliver(runtime, product(3, events.ProductWithdrawn), 2)
    await deliver(runtime, exporter(employees=45), 2)
    incremental, _ = await state(runtime)
    forget_matchers()
    await deliver(runtime, product(6), 1)  # the dearest: it ranks last
    rebuilt, _ = await state(runtime)
    assert incremental is not None and rebuilt is not None
    assert rebuilt.matches[:-1] == incremental.matches
    assert rebuilt.matches[-1]["product_id"] == str(product_id(6))
    assert rebuilt.version == incremental.version + 1


async def test_a_set_that_keeps_its_entries_after_a_product_change_is_the_one_built_anew(
    runtime: ServiceRuntime[Any],
) -> None:
    """A financing product's change keeps the stored entries of the other products; computing
    the set again with every entry rebuilt (here: the profile's event, its content unchanged)
    changes nothing."""
    await deliver(runtime, exporter(), 1)
    for n in range(1, 5):
        await deliver(runtime, product(n), 1)
    await deliver(runtime, product(5, amount_max=1_000_000), 1)  # a miss: the amount
    await deliver(runtime, request(), 1)
    await deliver(runtime, product(2, product_version=2, pricing={"indicative_rate_pct": 1.0}), 2)
    await deliver(runtime, product(5, product_version=2, amount_max=900_000), 2)
    await deliver(runtime, product(6, currencies=["EUR"]), 1)  # a miss: the currency
    await deliver(runtime, product(3, events.ProductWithdrawn), 2)
    await deliver(runtime, product(7), 1)
    kept, _ = await state(runtime)
    await deliver(runtime, exporter(), 2)
    rebuilt, _ = await state(runtime)
    assert kept is not None and rebuilt is not None
    assert [m["product_id"] for m in kept.matches] == [str(product_id(n)) for n in (2, 1, 4, 7)]
    assert {m["product_id"] for m in kept.excluded} == {str(product_id(5)), str(product_id(6))}
    assert (rebuilt.matches, rebuilt.excluded, rebuilt.version) == (
        kept.matches,
        kept.excluded,
        kept.version,
    )
