"""The deal flow on PostgreSQL, real RabbitMQ and real Redis: two identical writes racing (two
reviews, two acceptances of offers of one request, one Idempotency-Key twice at once), and a
`review.completed` delivered twice by the broker, which sends and notifies once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from credit_products.bootstrap import definition as credit_products
from exporters.bootstrap import definition as exporters
from matching.adapters.orm import AuditEntry, Notification, ProductProjection, Referral
from matching.bootstrap import definition as matching
from redis.asyncio import Redis
from sqlmodel import select
from support import handworked, infra
from support.handworked import Catalogue, ok
from support.infra import DatabaseFactory
from support.system import Running, count, running
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.contracts import Envelope, events
from tasdir.messaging import OutgoingMessage, RabbitTransport
from tasdir.settings import Settings

PREFIX = f"tasdir-test-{infra.RUN_ID}-{uuid4().hex[:6]}:"
SETTINGS = Settings(environment="development", rate_limit_per_minute=0, redis_prefix=PREFIX)
ADVISOR = bearer(SETTINGS, "advisor", sub="advisor-souss", regions=("souss-massa",))


@dataclass
class Deal:
    client: httpx.AsyncClient
    system: Running
    catalogue: Catalogue

    @property
    def set_url(self) -> str:
        return f"/v1/match-sets/{self.catalogue.request_id}"

    async def referrals(self, n: int) -> list[dict[str, Any]]:
        async def arrived() -> bool:
            return await count(self.system["matching"], Referral) >= n

        await infra.eventually(arrived, timeout=60)
        body = ok(await self.client.get("/v1/referrals", headers=self.catalogue.bank))
        return list(body["items"])

    async def outbox(self, event_type: str) -> list[Envelope]:
        table = self.system["matching"].tables.outbox
        async with self.system["matching"].sessions() as session:
            query = select(table).where(table.event_type == event_type)
            rows = (await session.exec(query)).all()
        return [Envelope.model_validate_json(row.body) for row in rows]


@pytest.fixture
async def deal(broker: RabbitTransport, databases: DatabaseFactory) -> AsyncIterator[Deal]:
    infra.require("Redis", "127.0.0.1", 6379)
    redis = Redis.from_url(infra.REDIS_URL)
    services = [
        (exporters, await databases()),
        (credit_products, await databases()),
        (matching, await databases()),
    ]
    try:
        async with running(services, broker, settings=SETTINGS) as system:
            app = create_app("tasdir", list(system.runtimes.values()), SETTINGS, redis=redis)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def every_product_heard_of() -> None:
                    async def eight() -> bool:
                        return await count(system["matching"], ProductProjection) >= 8

                    await infra.eventually(eight, timeout=60)

                built = await handworked.build(client, SETTINGS, settle=every_product_heard_of)
                handworked.check(built, await handworked.settled(client, built, timeout=60))
                yield Deal(client, system, built)
    finally:
        keys = [key async for key in redis.scan_iter(f"{PREFIX}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_two_identical_reviews_racing_approve_once(deal: Deal) -> None:
    body = {"decision": "approve", "product_ids": [deal.catalogue.ids["eligible"]]}
    answers = await asyncio.gather(
        *(deal.client.post(f"{deal.set_url}/review", json=body, headers=ADVISOR) for _ in range(4))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        assert answer.status_code == 200 or answer.headers["content-type"] == (
            "application/problem+json"
        )
    assert await count(deal.system["matching"], AuditEntry) == 1
    assert len(await deal.outbox(events.ReviewCompleted.event_type)) == 1
    assert len(await deal.referrals(1)) == 1


async def test_one_idempotency_key_twice_at_once_writes_once(deal: Deal) -> None:
    body = {"decision": "approve"}
    headers = {**ADVISOR, "Idempotency-Key": f"review-{uuid4().hex}"}
    first, second = await asyncio.gather(
        deal.client.post(f"{deal.set_url}/review", json=body, headers=headers),
        deal.client.post(f"{deal.set_url}/review", json=body, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) in ([200, 200], [200, 409])
    replay = await deal.client.post(f"{deal.set_url}/review", json=body, headers=headers)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert await count(deal.system["matching"], AuditEntry) == 1
    assert len(await deal.referrals(2)) == 2


async def test_two_offers_of_one_request_accepted_at_once_close_it_once(deal: Deal) -> None:
    ok(
        await deal.client.post(
            f"{deal.set_url}/review", json={"decision": "approve"}, headers=ADVISOR
        )
    )
    referrals = await deal.referrals(2)
    terms = {
        "amount": "2500000",
        "currency": "MAD",
        "rate_pct": 6.0,
        "tenor_days": 180,
        "fees_pct": 0.25,
        "valid_until": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "binding": False,
    }
    for referral in referrals:
        url = f"/v1/referrals/{referral['id']}/response"
        ok(
            await deal.client.post(
                url, json={"status": "offer", "terms": terms}, headers=deal.catalogue.bank
            )
        )
    answers = await asyncio.gather(
        *(
            deal.client.post(
                f"/v1/referrals/{r['id']}/offer/accept", headers=deal.catalogue.exporter
            )
            for r in referrals
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    decided = await deal.outbox(events.OfferDecided.event_type)
    assert [e.payload["offer_decision"] for e in decided] == ["accepted"]

    async def closed() -> bool:
        url = f"/v1/financing-requests/{deal.catalogue.request_id}"
        read = ok(await deal.client.get(url, headers=deal.catalogue.exporter))
        return read["status"] == "closed"

    await infra.eventually(closed, timeout=60)


async def test_a_review_delivered_twice_by_the_broker_sends_and_notifies_once(
    deal: Deal, broker: RabbitTransport
) -> None:
    ok(
        await deal.client.post(
            f"{deal.set_url}/review", json={"decision": "approve"}, headers=ADVISOR
        )
    )
    await deal.referrals(2)

    async def told() -> bool:
        async with deal.system["matching"].sessions() as session:
            rows = (await session.exec(select(Notification.kind))).all()
        return rows.count("referral.received") == 2 and "review.approved" in rows

    await infra.eventually(told, timeout=60)
    before = await count(deal.system["matching"], Notification)
    (review,) = await deal.outbox(events.ReviewCompleted.event_type)
    # The same envelope again, and the same review wrapped in a new envelope (a republish).
    rewrapped = review.model_copy(update={"event_id": uuid4()})
    for envelope in (review, rewrapped):
        await broker.publish(OutgoingMessage.from_envelope(envelope))
    # Something later that matching handles, to know the duplicates are behind it.
    marker = await _consent(deal)

    async def consent_seen() -> bool:
        async with deal.system["matching"].sessions() as session:
            rows = (await session.exec(select(Notification.kind))).all()
        return "consent.granted" in rows

    await infra.eventually(consent_seen, timeout=60)
    assert marker
    assert await count(deal.system["matching"], Referral) == 2
    assert await count(deal.system["matching"], Notification) == before + 1
    assert len(await deal.outbox(events.ReferralSent.event_type)) == 2


async def _consent(deal: Deal) -> bool:
    me = ok(await deal.client.get("/v1/exporters/me", headers=deal.catalogue.exporter))
    body = {"provider_id": deal.catalogue.bank_id}
    url = f"/v1/exporters/{me['id']}/consents"
    response = await deal.client.post(url, json=body, headers=deal.catalogue.exporter)
    return response.status_code == 201
