"""Matching on PostgreSQL and real RabbitMQ: the hand-worked catalogue through the three
services, and a consumer killed in the middle of its queue, which leaves every request matched
exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import MatchSet, ProductProjection
from matching.bootstrap import definition as matching
from sqlmodel import select
from support import handworked, infra
from support.infra import DatabaseFactory
from support.system import Running, count, running
from tasdir.api import create_app
from tasdir.contracts import Envelope, IntegrationEvent, events
from tasdir.messaging import OutgoingMessage, RabbitTransport
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
VICTIM = Path(__file__).parent.parent / "consumer_victim.py"


@pytest.fixture
async def system(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Running]:
    services = [
        (exporters, await databases()),
        (credit_products, await databases()),
        (matching, await databases()),
    ]
    async with running(services, broker, settings=SETTINGS) as started:
        yield started


async def sent_by_matching(system: Running) -> list[Envelope]:
    outbox = system["matching"].tables.outbox
    async with system["matching"].sessions() as session:
        rows = (await session.exec(select(outbox).order_by(outbox.id))).all()  # type: ignore[arg-type]
    return [Envelope.model_validate_json(row.body) for row in rows]


async def test_the_hand_worked_catalogue_through_the_three_services(system: Running) -> None:
    app = create_app("tasdir", list(system.runtimes.values()), SETTINGS)

    async def every_product_heard_of() -> None:
        async def eight() -> bool:
            return await count(system["matching"], ProductProjection) >= 8

        await infra.eventually(eight, timeout=60)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        catalogue = await handworked.build(c, SETTINGS, settle=every_product_heard_of)
        match_set = await handworked.settled(c, catalogue, timeout=60)
        handworked.check(catalogue, match_set)
        french = (
            await c.get(
                f"/v1/match-sets/{catalogue.request_id}",
                headers={**catalogue.exporter, "Accept-Language": "fr"},
            )
        ).json()
    sent = [(e.type, e.aggregate_version) for e in await sent_by_matching(system)]
    assert sent == [("matching.match_set.proposed.v1", 1)]
    (small,) = [e for e in french["excluded"] if e["product_id"] == catalogue.ids["small"]]
    assert small["reasons"][0]["message"] == (
        "le montant de 2\u202f500\u202f000 MAD dépasse le maximum de 2\u202f000\u202f000 MAD"
        " de ce produit"
    )


# ---- a consumer killed mid-queue ----

BANK = uuid4()
REQUESTS = 24


def envelope(event: IntegrationEvent, producer: str, version: int = 1) -> OutgoingMessage:
    wrapped = Envelope.wrap(
        event,
        producer=producer,
        aggregate_id=str(event.id),  # type: ignore[attr-defined]
        aggregate_version=version,
        correlation_id=str(uuid4()),
    )
    return OutgoingMessage.from_envelope(wrapped)


def stream() -> list[OutgoingMessage]:
    """A provider, five products, then REQUESTS exporters, each with one request."""
    out = [
        envelope(
            events.ProviderRegistered(id=BANK, name="B", kind="bank", country="MA"),
            "credit_products",
        )
    ]
    for n in range(5):
        product = events.ProductPublished(
            id=uuid4(),
            provider_id=BANK,
            status="published",
            product_version=1,
            name={"fr": f"Prêt {n}", "en": f"Loan {n}"},
            description={"fr": "-", "en": "-"},
            instrument="pre_export_finance",
            currencies=["MAD"],
            amount_currency="MAD",
            amount_max=1_000_000 * (n + 1),
            pricing={"indicative_rate_pct": 4.0 + n},
            decision_days=10 + n,
        )
        out.append(envelope(product, "credit_products"))
    for i in range(REQUESTS):
        exporter_id = uuid4()
        exporter = events.ExporterRegistered(
            id=exporter_id,
            org=f"org-{i}",
            status="active",
            legal_name=f"Exportateur {i}",
            ice=f"{i:015d}",
            region="oriental",
            employees=30,
        )
        request = events.FinancingRequestSubmitted(
            id=uuid4(),
            exporter_id=exporter_id,
            org=f"org-{i}",
            status="submitted",
            region="oriental",
            instrument="pre_shipment",
            amount=500_000 * (i % 8 + 1),
            currency="MAD",
            tenor_days=180,
            destination="SN",
            hs_codes=["0805"],
            purpose="new_contract",
            payment_terms="lc",
        )
        out += [envelope(exporter, "exporters"), envelope(request, "exporters")]
    return out


@pytest.mark.parametrize("stage", ["handled", "committed"])
async def test_a_consumer_killed_mid_queue_leaves_every_request_matched_exactly_once(
    rabbit: tuple[str, str], broker: RabbitTransport, databases: DatabaseFactory, stage: str
) -> None:
    url = await databases()
    async with running([(matching, url)], broker, relays=False, consumers=False) as system:
        messages = stream()
        for message in messages:
            await broker.publish(message)
        env = {**os.environ, "TASDIR_AMQP_URL": rabbit[1], "TASDIR_MATCHING_DATABASE_URL": url}
        victim = subprocess.run(
            [sys.executable, str(VICTIM), stage, str(REQUESTS // 2)],
            env=env,
            timeout=120,
            capture_output=True,
        )
        assert victim.returncode == -9, victim.stderr.decode()[-2000:]
        runtime = system["matching"]
        half = await count(runtime, MatchSet)
        # `handled` died before committing the N-th (with the batch it was in); `committed`
        # after.
        if stage == "handled":
            assert half < REQUESTS // 2
        else:
            assert half >= REQUESTS // 2

        consumer = subprocess.Popen([sys.executable, "-m", "matching", "consumer"], env=env)
        try:

            async def all_consumed() -> bool:
                inbox = runtime.tables.inbox
                return await count(runtime, inbox) == len(messages)

            await infra.eventually(all_consumed, timeout=90)
            await asyncio.sleep(1.0)  # anything redelivered late would show now
        finally:
            consumer.terminate()
            consumer.wait(timeout=30)
        assert consumer.returncode == 0

        async with runtime.sessions() as session:
            sets = (await session.exec(select(MatchSet))).all()
        assert len(sets) == REQUESTS
        assert {s.version for s in sets} == {1}
        proposed: dict[UUID, int] = {}
        for sent in await sent_by_matching(system):
            assert sent.type == "matching.match_set.proposed.v1", sent.type
            key = UUID(sent.aggregate_id)
            proposed[key] = proposed.get(key, 0) + 1
        assert proposed == {s.request_id: 1 for s in sets}
        # Each request saw the whole catalogue: the five products, matched or excluded.
        for s in sets:
            listed: list[dict[str, Any]] = [*s.matches, *s.excluded]
            assert len(listed) == 5
