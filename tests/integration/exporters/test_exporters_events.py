"""The exporters service on PostgreSQL and real RabbitMQ: each change publishes exactly one
event with its full snapshot and `aggregate_version`, and matching's events, replayed and out
of order, leave each request's status where the table says."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import httpx
import pytest
from exporters.adapters.orm import FinancingRequestRow
from exporters.bootstrap import definition as exporters
from support import infra
from support.infra import DatabaseFactory
from support.system import Running, running
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.contracts import Envelope, IntegrationEvent, events
from tasdir.messaging import EVENTS_EXCHANGE, OutgoingMessage, RabbitTransport, service_queue
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
EXPORTER = bearer(SETTINGS, "exporter", org="atlas")


@pytest.fixture
async def system(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Running]:
    async with running([(exporters, await databases())], broker, settings=SETTINGS) as started:
        yield started


@pytest.fixture
async def probe(rabbit: tuple[str, str]) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A queue of the test's own, bound to every exporters event."""
    connection = await aio_pika.connect(rabbit[1])
    channel = await connection.channel()
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="exporters.#")
    yield queue
    await connection.close()


async def received(queue: aio_pika.abc.AbstractQueue, count: int) -> list[Envelope]:
    got: list[Envelope] = []

    async def enough() -> bool:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            got.append(Envelope.model_validate_json(message.body))
        return len(got) >= count

    await infra.eventually(enough, timeout=30)
    await asyncio.sleep(0.5)
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        got.append(Envelope.model_validate_json(message.body))
    return got


def client(system: Running) -> httpx.AsyncClient:
    app = create_app("exporters", [system["exporters"]], SETTINGS)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


PROFILE = {
    "legal_name": "Atlas Agrumes SARL",
    "ice": "001234567000089",
    "region": "souss-massa",
    "annual_turnover_mad": "48000000",
    "export_turnover_mad": "36000000",
    "exports": [{"hs_code": "0805", "destination": "FR", "share_pct": 90}],
}
REQUEST = {
    "instrument": "pre_export_finance",
    "amount": "2500000",
    "currency": "MAD",
    "tenor_days": 180,
    "destination": "CI",
    "hs_codes": ["0805"],
    "purpose": "new_contract",
    "payment_terms": "lc",
}


async def know_provider(system: Running, provider_id: UUID) -> None:
    snapshot = events.ProviderRegistered(id=provider_id, name="B", kind="bank", country="MA")
    await publish(system, snapshot, provider_id, 1)

    async def known() -> bool:
        async with system["exporters"].uow() as uow:
            return await uow.providers.is_known(provider_id)

    await infra.eventually(known)


async def publish(system: Running, event: IntegrationEvent, aggregate: UUID, version: int) -> None:
    envelope = Envelope.wrap(
        event,
        producer=event.event_type.split(".")[0],
        aggregate_id=str(aggregate),
        aggregate_version=version,
        correlation_id=str(uuid4()),
    )
    queue = service_queue("exporters").name
    await system["exporters"].transport.send_to_queue(
        queue, OutgoingMessage.from_envelope(envelope)
    )


async def test_each_change_publishes_exactly_one_event_with_its_snapshot(
    system: Running, probe: aio_pika.abc.AbstractQueue
) -> None:
    provider = uuid4()
    await know_provider(system, provider)
    async with client(system) as http:
        exporter = (await http.post("/v1/exporters", json=PROFILE, headers=EXPORTER)).json()
        url = f"/v1/exporters/{exporter['id']}"
        await http.patch(url, json={"employees": 12}, headers=EXPORTER)
        await http.patch(url, json={"employees": 12}, headers=EXPORTER)  # no change: no event
        request = (await http.post("/v1/financing-requests", json=REQUEST, headers=EXPORTER)).json()
        request_url = f"/v1/financing-requests/{request['id']}"
        await http.patch(request_url, json={"tenor_days": 90}, headers=EXPORTER)
        await http.post(f"{request_url}/withdraw", headers=EXPORTER)
        await http.post(f"{url}/consents", json={"provider_id": str(provider)}, headers=EXPORTER)
        await http.delete(f"{url}/consents/{provider}", headers=EXPORTER)
        await http.post(f"{url}/deactivate", headers=EXPORTER)
    got = await received(probe, 8)
    assert [(e.type.split(".", 1)[1], e.aggregate_version) for e in got] == [
        ("exporter.registered.v1", 1),
        ("exporter.updated.v1", 2),
        ("financing_request.submitted.v1", 1),
        ("financing_request.amended.v1", 2),
        ("financing_request.withdrawn.v1", 3),
        ("consent.granted.v1", 1),
        ("consent.revoked.v1", 2),
        ("exporter.deactivated.v1", 3),
    ]
    updated = got[1].event()
    assert isinstance(updated, events.ExporterUpdated)
    assert (updated.employees, updated.is_mono_market, updated.export_share_pct) == (12, True, 75.0)
    withdrawn = got[4].event()
    assert isinstance(withdrawn, events.FinancingRequestWithdrawn)
    assert (withdrawn.status, withdrawn.tenor_days, withdrawn.amount) == (
        "withdrawn",
        90,
        Decimal("2500000"),
    )
    revoked = got[6].event()
    assert isinstance(revoked, events.ConsentRevoked)
    assert revoked.status == "revoked" and revoked.provider_id == provider
    assert {e.correlation_id for e in got[:1]} and all(e.producer == "exporters" for e in got)


def _referral(
    request: dict[str, Any],
    referral_id: UUID,
    status: str,
    *,
    decision: str | None = None,
) -> events.ReferralSnapshot:
    now = datetime.now(UTC)
    response = None
    if status != "sent":
        terms = None
        if status == "offer":
            terms = events.OfferTerms(
                amount=Decimal("2500000"),
                currency="MAD",
                rate_pct=6.5,
                tenor_days=180,
                fees_pct=0.5,
                valid_until=now + timedelta(days=10),
                binding=True,
            )
        response = events.ProviderResponse(status=status, terms=terms, recorded_at=now)  # type: ignore[arg-type]
    kind: type[events.ReferralSnapshot] = events.ReferralSent
    if decision is not None:
        kind = events.OfferDecided
    elif status != "sent":
        kind = events.ProviderResponseRecorded
    return kind(
        id=referral_id,
        request_id=UUID(request["id"]),
        exporter_id=UUID(request["exporter_id"]),
        org=request["org"],
        provider_id=uuid4(),
        product_id=uuid4(),
        product_version=1,
        status=status,  # type: ignore[arg-type]
        sent_at=now,
        response=response,
        offer_decision=decision,  # type: ignore[arg-type]
        decided_at=now if decision else None,
    )


def _match_set(request: dict[str, Any], status: str, version: int) -> events.MatchSetSnapshot:
    kind = events.MatchSetProposed if version == 1 else events.MatchSetUpdated
    return kind(
        request_id=UUID(request["id"]),
        exporter_id=UUID(request["exporter_id"]),
        org=request["org"],
        region=request["region"],
        status=status,  # type: ignore[arg-type]
        version=version,
        computed_at=datetime.now(UTC),
        catalogue_seq=1,
        fx_as_of=date(2025, 1, 31),
    )


async def status_of(system: Running, request_id: str) -> str:
    async with system["exporters"].sessions() as session:
        row = await session.get(FinancingRequestRow, UUID(request_id))
        assert row is not None
        return row.status


async def settled(system: Running, request_id: str, status: str) -> None:
    async def reached() -> bool:
        return await status_of(system, request_id) == status

    await infra.eventually(reached, timeout=30)
    await asyncio.sleep(0.5)  # anything still in flight would show now
    assert await status_of(system, request_id) == status


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_replayed_and_reordered_matching_events_close_the_request_once(
    system: Running, probe: aio_pika.abc.AbstractQueue, seed: int
) -> None:
    async with client(system) as http:
        await http.post("/v1/exporters", json=PROFILE, headers=EXPORTER)
        request = (await http.post("/v1/financing-requests", json=REQUEST, headers=EXPORTER)).json()
    request_id = UUID(request["id"])
    referral = uuid4()
    review = events.ReviewCompleted(
        id=uuid4(),
        request_id=request_id,
        exporter_id=UUID(request["exporter_id"]),
        org="atlas",
        match_set_version=2,
        decision="approve",
        product_ids=(uuid4(),),
        reviewer="advisor-1",
        reviewed_at=datetime.now(UTC),
    )
    story: list[tuple[IntegrationEvent, UUID, int]] = [
        (_match_set(request, "proposed", 1), request_id, 1),
        (_match_set(request, "in_review", 2), request_id, 2),
        (review, request_id, 1),
        (_referral(request, referral, "sent"), referral, 1),
        (_referral(request, referral, "offer"), referral, 2),
        (_referral(request, referral, "offer", decision="accepted"), referral, 3),
    ]
    shuffled = story * 2  # every event twice
    random.Random(seed).shuffle(shuffled)
    for event, aggregate, version in shuffled:
        await publish(system, event, aggregate, version)
    await settled(system, request["id"], "closed")
    got = await received(probe, 3)
    closed = [e for e in got if e.type == events.FinancingRequestClosed.event_type]
    assert len(closed) == 1 and closed[0].aggregate_version == 2
    assert closed[0].payload["status"] == "closed"


async def test_every_referral_declined_declines_the_request_even_out_of_order(
    system: Running,
) -> None:
    async with client(system) as http:
        await http.post("/v1/exporters", json=PROFILE, headers=EXPORTER)
        request = (await http.post("/v1/financing-requests", json=REQUEST, headers=EXPORTER)).json()
    one, two = uuid4(), uuid4()
    # One bank declines; the other's referral is still only sent: referred, not declined.
    await publish(system, _referral(request, one, "declined"), one, 2)
    await publish(system, _referral(request, two, "sent"), two, 1)
    await settled(system, request["id"], "referred")
    # The late "sent" of the first arrives after its "declined": it changes nothing. Both are
    # declined now, but how many referrals the approval made is not known yet.
    await publish(system, _referral(request, one, "sent"), one, 1)
    await publish(system, _referral(request, two, "declined"), two, 2)
    await settled(system, request["id"], "referred")
    # The review arrives last: it approved two products, and both are declined.
    review = events.ReviewCompleted(
        id=uuid4(),
        request_id=UUID(request["id"]),
        exporter_id=UUID(request["exporter_id"]),
        org="atlas",
        match_set_version=2,
        decision="approve",
        product_ids=(uuid4(), uuid4()),
        reviewer="advisor-1",
        reviewed_at=datetime.now(UTC),
    )
    await publish(system, review, review.id, 1)
    await settled(system, request["id"], "declined")
    # A final status stays final, whatever comes next.
    await publish(system, _match_set(request, "proposed", 1), UUID(request["id"]), 1)
    await settled(system, request["id"], "declined")


async def test_a_rejected_request_stays_rejected(system: Running) -> None:
    async with client(system) as http:
        await http.post("/v1/exporters", json=PROFILE, headers=EXPORTER)
        request = (await http.post("/v1/financing-requests", json=REQUEST, headers=EXPORTER)).json()
        request_id = UUID(request["id"])
        await publish(system, _match_set(request, "rejected", 3), request_id, 3)
        await publish(system, _match_set(request, "proposed", 1), request_id, 1)
        await settled(system, request["id"], "rejected")
        url = f"/v1/financing-requests/{request['id']}"
        response = await http.get(url, headers=EXPORTER)
        assert response.json()["status"] == "rejected"
        refused = await http.patch(url, json={"tenor_days": 30}, headers=EXPORTER)
        assert refused.status_code == 409
