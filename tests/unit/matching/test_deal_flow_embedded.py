"""The deal flow in the embedded system (SQLite, the in-process bus): the advisor's review, the
referrals, consent-gated disclosure and its access log, the provider's answers, the exporter's
reply and decision, the notifications, the expiries, and who may not see what (BOLA)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from exporters.adapters.orm import ReferralProjection
from matching.adapters.orm import Notification, ProductProjection, Referral
from matching.service_layer import deals, handlers
from sqlalchemy import func
from sqlmodel import col, select
from support import handworked
from support.apps import serving
from support.handworked import Catalogue, ok
from support.infra import eventually
from support.system import count
from support.tokens import bearer
from tasdir.contracts import Envelope, events
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from tasdir_cli.embedded import EmbeddedSystem, build_app

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
ADVISOR = bearer(SETTINGS, "advisor", sub="advisor-souss", regions=("souss-massa",))
OTHER_ADVISOR = bearer(SETTINGS, "advisor", sub="advisor-oriental", regions=("oriental",))
ADMIN = bearer(SETTINGS, "admin")
STRANGER = bearer(SETTINGS, "exporter", sub="someone-else", org="org-other")
IDENTITY_TEXT = ("Agrumes du Souss", "002345678000091")


@dataclass
class Deal:
    client: httpx.AsyncClient
    system: EmbeddedSystem
    catalogue: Catalogue

    @property
    def matching(self) -> ServiceRuntime[Any]:
        return self.system.runtimes["matching"]

    @property
    def set_url(self) -> str:
        return f"/v1/match-sets/{self.catalogue.request_id}"

    @property
    def exporter(self) -> dict[str, str]:
        return self.catalogue.exporter

    @property
    def bank(self) -> dict[str, str]:
        return self.catalogue.bank

    async def exporter_id(self) -> str:
        return str(ok(await self.client.get("/v1/exporters/me", headers=self.exporter))["id"])

    async def referrals(self, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        body = ok(await self.client.get("/v1/referrals", params=params, headers=headers))
        return list(body["items"])

    async def request_status(self) -> str:
        url = f"/v1/financing-requests/{self.catalogue.request_id}"
        return str(ok(await self.client.get(url, headers=self.exporter))["status"])

    async def approve(self, *keys: str) -> dict[str, Any]:
        ids = [self.catalogue.ids[k] for k in keys]
        body = {"decision": "approve", "product_ids": ids}
        return dict(
            ok(await self.client.post(f"{self.set_url}/review", json=body, headers=ADVISOR))
        )

    async def referred(self, n: int) -> list[dict[str, Any]]:
        """The bank's referrals once there are `n` of them."""

        async def arrived() -> bool:
            return len(await self.referrals(self.bank)) >= n

        await eventually(arrived, timeout=20)
        return await self.referrals(self.bank)

    async def kinds(self, headers: dict[str, str]) -> list[str]:
        body = ok(
            await self.client.get("/v1/notifications", params={"limit": 100}, headers=headers)
        )
        return [item["kind"] for item in reversed(body["items"])]

    async def count(self, model: Any) -> int:
        return await count(self.matching, model)

    async def set_offer_validity(self, referral_id: str, until: datetime) -> None:
        async with self.matching.sessions() as session:
            row = await session.get(Referral, UUID(referral_id))
            assert row is not None
            row.offer_valid_until = until
            session.add(row)
            await session.commit()

    async def outbox(self, event_type: str) -> list[Envelope]:
        table = self.matching.tables.outbox
        async with self.matching.sessions() as session:
            query = select(table).where(table.event_type == event_type).order_by(table.id)  # type: ignore[arg-type]
            rows = (await session.exec(query)).all()
        return [Envelope.model_validate_json(row.body) for row in rows]


@pytest.fixture
async def deal(tmp_path: Path) -> AsyncIterator[Deal]:
    app = build_app(tmp_path, SETTINGS, seeders=[])
    async with serving(app) as client:
        system: EmbeddedSystem = app.state.system
        matching = system.runtimes["matching"]

        async def heard_of_every_product() -> None:
            await eventually(lambda: _products_at_least(matching, 8), timeout=20)

        built = await handworked.build(client, SETTINGS, settle=heard_of_every_product)
        handworked.check(built, await handworked.settled(client, built))
        yield Deal(client, system, built)


async def _products_at_least(runtime: ServiceRuntime[Any], n: int) -> bool:
    return await count(runtime, ProductProjection) >= n


def offer_terms(days: int = 7) -> dict[str, Any]:
    return {
        "amount": "2500000",
        "currency": "MAD",
        "rate_pct": 5.25,
        "tenor_days": 180,
        "fees_pct": 0.5,
        "conditions": "Irrevocable LC confirmed by a first-rank bank.",
        "valid_until": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
        "binding": True,
    }


def shows_no_identity(referral: dict[str, Any]) -> bool:
    text = json.dumps(referral)
    exporter = referral["exporter"]
    return (
        exporter["anonymised"] is True
        and exporter["identity"] is None
        and exporter["buyer"] is None
        and not any(fragment in text for fragment in IDENTITY_TEXT)
        and "exporter_id" not in text
    )


async def test_a_request_goes_from_matches_to_a_closed_deal(deal: Deal) -> None:
    client, ids = deal.client, deal.catalogue.ids
    # The advisor opens the set: it is in review, and the trail says who opened it.
    opened = ok(await client.get(deal.set_url, headers=ADVISOR))
    assert opened["status"] == "in_review"
    assert [(a["action"], a["actor"]) for a in opened["audit"]] == [("opened", "advisor-souss")]
    await eventually(lambda: _status_is(deal, "in_review"), timeout=20)

    approved = await deal.approve("eligible", "bundled")
    assert approved["status"] == "approved"
    assert [a["action"] for a in approved["audit"]] == ["opened", "approved"]
    assert sorted(approved["audit"][1]["product_ids"]) == sorted([ids["eligible"], ids["bundled"]])
    # The exporter sees the decision but not who took it.
    seen = ok(await client.get(deal.set_url, headers=deal.exporter))
    assert [a["actor"] for a in seen["audit"]] == [None, None]

    # One referral per approved product, the guarantee named in the bundled one.
    referrals = {r["product_id"]: r for r in await deal.referred(2)}
    assert set(referrals) == {ids["eligible"], ids["bundled"]}
    bundled = referrals[ids["bundled"]]
    assert [b["product_id"] for b in bundled["bundle"]] == [ids["guarantee"]]
    assert all(r["status"] == "sent" for r in referrals.values())
    await eventually(lambda: _status_is(deal, "referred"), timeout=20)

    # Before consent the bank sees the deal, not the exporter.
    referral = referrals[ids["eligible"]]
    assert shows_no_identity(referral)
    assert referral["exporter"]["region"] == "souss-massa"
    assert referral["exporter"]["size_band"] == "small"
    assert referral["exporter"]["hs_chapters"] == ["08"]
    assert referral["request"]["amount"] == "2500000.00"
    assert referral["request"]["destination"] == "CI"
    url = f"/v1/referrals/{referral['id']}"
    assert shows_no_identity(ok(await client.get(url, headers=deal.bank)))
    log = ok(await client.get("/v1/referrals/access-log", headers=deal.exporter))
    assert log["items"] == []

    # The exporter consents: the bank sees who it is, and the exporter sees that it did.
    exporter_id = await deal.exporter_id()
    consent = {"provider_id": deal.catalogue.bank_id}
    ok(
        await client.post(
            f"/v1/exporters/{exporter_id}/consents", json=consent, headers=deal.exporter
        ),
        201,
    )

    async def identified() -> bool:
        seen = ok(await client.get(url, headers=deal.bank))
        return seen["exporter"]["anonymised"] is False

    await eventually(identified, timeout=20)
    revealed = ok(await client.get(url, headers=deal.bank))["exporter"]
    assert revealed["identity"]["legal_name"] == "Agrumes du Souss SARL"
    assert revealed["identity"]["ice"] == "002345678000091"
    assert revealed["identity"]["id"] == exporter_id
    log = ok(await client.get("/v1/referrals/access-log", headers=deal.exporter))["items"]
    assert log and {(e["viewer"], e["viewer_role"]) for e in log} == {("provider-1", "provider")}
    assert {e["referral_id"] for e in log} == {referral["id"]}
    assert "legal_name" in log[0]["fields"] and "ice" in log[0]["fields"]

    # The bank asks, the exporter answers, the bank offers.
    question = {"status": "info_requested", "message": "Please send the draft LC."}
    asked = ok(await client.post(f"{url}/response", json=question, headers=deal.bank))
    assert asked["status"] == "info_requested"
    await eventually(lambda: _has_kind(deal, deal.exporter, "referral.answered"), timeout=20)
    answer = {"message": "Draft LC attached to the file, issued by SGCI Abidjan."}
    replied = ok(await client.post(f"{url}/reply", json=answer, headers=deal.exporter))
    assert replied["reply"]["message"] == answer["message"]
    offer = {"status": "offer", "terms": offer_terms()}
    offered = ok(await client.post(f"{url}/response", json=offer, headers=deal.bank))
    assert offered["status"] == "offer" and offered["offer"]["decision"] is None
    await eventually(lambda: _status_is(deal, "offered"), timeout=20)

    # Side by side: the all-in cost spreads the fees over the tenor.
    offers = ok(await client.get("/v1/referrals/offers", headers=deal.exporter))["items"]
    assert [o["referral_id"] for o in offers] == [referral["id"]]
    assert offers[0]["offer"]["all_in_cost_pct"] == 6.26  # 5.25 + 0.5 x 365 / 180, 2 decimals
    assert offers[0]["offer"]["expired"] is False

    accepted = ok(await client.post(f"{url}/offer/accept", headers=deal.exporter))
    assert accepted["offer"]["decision"] == "accepted"
    await eventually(lambda: _status_is(deal, "closed"), timeout=20)
    timeline = [s["kind"] for s in accepted["timeline"]]
    assert timeline == ["sent", "response", "reply", "response", "offer_decision"]
    # A closed request takes no further answer or decision.
    other_url = f"/v1/referrals/{referrals[ids['bundled']]['id']}"
    late = await client.post(f"{other_url}/response", json=offer, headers=deal.bank)
    assert late.status_code == 409, late.text
    assert late.headers["content-type"] == "application/problem+json"

    # Every step reached its parties.
    await eventually(lambda: _has_kind(deal, deal.bank, "offer.accepted"), timeout=20)
    exporter_kinds = await deal.kinds(deal.exporter)
    for kind in ("match_set.ready", "review.approved", "referral.answered"):
        assert kind in exporter_kinds, exporter_kinds
    assert exporter_kinds.count("referral.answered") == 2
    bank_kinds = await deal.kinds(deal.bank)
    assert bank_kinds.count("referral.received") == 2
    for kind in ("consent.granted", "referral.replied", "offer.accepted"):
        assert kind in bank_kinds, bank_kinds
    assert "match_set.proposed" in await deal.kinds(ADVISOR)
    assert await deal.kinds(OTHER_ADVISOR) == []

    # Revoking the consent hides the identity again; what was seen stays in the log.
    revoke = f"/v1/exporters/{exporter_id}/consents/{deal.catalogue.bank_id}"
    assert (await client.delete(revoke, headers=deal.exporter)).status_code in (200, 204)

    async def hidden_again() -> bool:
        return shows_no_identity(ok(await client.get(url, headers=deal.bank)))

    await eventually(hidden_again, timeout=20)
    assert all(shows_no_identity(r) for r in await deal.referrals(deal.bank))
    after = ok(await client.get("/v1/referrals/access-log", headers=deal.exporter))["items"]
    assert len(after) >= len(log)


async def _status_is(deal: Deal, status: str) -> bool:
    return await deal.request_status() == status


async def _has_kind(deal: Deal, headers: dict[str, str], kind: str) -> bool:
    return kind in await deal.kinds(headers)


async def test_others_get_404_and_the_wrong_roles_403(deal: Deal) -> None:
    client = deal.client
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    url = f"/v1/referrals/{referral['id']}"
    review = {"decision": "reject", "note": "not ours"}
    # An advisor of another region.
    assert (await client.get(deal.set_url, headers=OTHER_ADVISOR)).status_code == 404
    response = await client.post(f"{deal.set_url}/review", json=review, headers=OTHER_ADVISOR)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert await deal.referrals(OTHER_ADVISOR) == []
    assert (await client.get(url, headers=OTHER_ADVISOR)).status_code == 404
    # Another provider never sees the bank's referrals, nor answers them.
    other_bank = bearer(SETTINGS, "provider", sub="bank-b", provider_id=str(UUID(int=7)))
    assert await deal.referrals(other_bank) == []
    assert (await client.get(url, headers=other_bank)).status_code == 404
    interested = {"status": "interested"}
    assert (
        await client.post(f"{url}/response", json=interested, headers=other_bank)
    ).status_code == 404
    # Another exporter sees no offer, no referral, no log of this one.
    assert ok(await client.get("/v1/referrals/offers", headers=STRANGER))["items"] == []
    assert await deal.referrals(STRANGER) == []
    assert (await client.get(url, headers=STRANGER)).status_code == 404
    assert (await client.post(f"{url}/offer/accept", headers=STRANGER)).status_code == 404
    assert (
        await client.post(f"{url}/reply", json={"message": "hi"}, headers=STRANGER)
    ).status_code == 404
    assert ok(await client.get("/v1/referrals/access-log", headers=STRANGER))["items"] == []
    # Roles that may never use a route.
    assert (
        await client.post(f"{deal.set_url}/review", json=review, headers=deal.exporter)
    ).status_code == 403
    assert (
        await client.post(f"{url}/response", json=interested, headers=deal.exporter)
    ).status_code == 403
    assert (
        await client.post(f"{url}/reply", json={"message": "x"}, headers=deal.bank)
    ).status_code == 403
    assert (await client.get("/v1/referrals/offers", headers=deal.bank)).status_code == 403
    assert (await client.get("/v1/referrals/access-log", headers=ADVISOR)).status_code == 403
    # The admin sees everything, identity included.
    assert len(await deal.referrals(ADMIN)) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"decision": "reject"}, 422, "note"),
        ({"decision": "reject", "note": "  "}, 422, "note"),
        ({"decision": "reject", "note": "no\x00pe"}, 422, "note"),
        ({"decision": "approve", "product_ids": [str(UUID(int=1))]}, 422, "product_ids"),
        ({"decision": "approve", "product_ids": []}, 422, "product_ids"),
        ({"decision": "maybe"}, 422, "decision"),
        ({"decision": "approve", "status": "approved"}, 422, "status"),
        ({"decision": "approve", "version": 99}, 409, None),
    ],
)
async def test_a_bad_review_changes_nothing(
    deal: Deal, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = await deal.client.post(f"{deal.set_url}/review", json=body, headers=ADVISOR)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in response.text
    after = ok(await deal.client.get(deal.set_url, headers=ADMIN))
    assert after["status"] == "proposed"
    assert [a["action"] for a in after["audit"]] == []


async def test_a_review_decides_once(deal: Deal) -> None:
    client = deal.client
    await deal.approve("eligible")
    again = await client.post(
        f"{deal.set_url}/review",
        json={"decision": "approve", "product_ids": [deal.catalogue.ids["eligible"]]},
        headers=ADVISOR,
    )
    assert again.status_code == 409 and again.json()["type"].endswith("already-referred")
    reject = await client.post(
        f"{deal.set_url}/review", json={"decision": "reject", "note": "late"}, headers=ADVISOR
    )
    assert reject.status_code == 409
    # The rest of the set can still be approved, once.
    rest = ok(
        await client.post(f"{deal.set_url}/review", json={"decision": "approve"}, headers=ADVISOR)
    )
    assert [a["action"] for a in rest["audit"]] == ["approved", "approved"]
    assert rest["audit"][1]["product_ids"] == [deal.catalogue.ids["bundled"]]
    nothing = await client.post(
        f"{deal.set_url}/review", json={"decision": "approve"}, headers=ADVISOR
    )
    assert nothing.status_code == 409
    assert len(await deal.referred(2)) == 2


async def test_a_rejection_is_final_and_tells_the_exporter(deal: Deal) -> None:
    body = {"decision": "reject", "note": "The file lacks audited accounts for 2025."}
    rejected = ok(await deal.client.post(f"{deal.set_url}/review", json=body, headers=ADVISOR))
    assert rejected["status"] == "rejected"
    assert rejected["audit"][-1]["note"] == body["note"]
    await eventually(lambda: _status_is(deal, "rejected"), timeout=20)
    await eventually(lambda: _has_kind(deal, deal.exporter, "review.rejected"), timeout=20)
    assert await deal.count(Referral) == 0
    again = await deal.client.post(
        f"{deal.set_url}/review", json={"decision": "approve"}, headers=ADVISOR
    )
    assert again.status_code == 409


async def test_a_redelivered_review_or_answer_sends_and_notifies_once(deal: Deal) -> None:
    client = deal.client
    await deal.approve("eligible", "bundled")
    referrals = await deal.referred(2)
    await eventually(lambda: _has_kind(deal, deal.exporter, "review.approved"), timeout=20)
    notified = await deal.count(Notification)
    (review,) = await deal.outbox(events.ReviewCompleted.event_type)
    event = events.ReviewCompleted.model_validate(review.payload)
    # The handler itself, past the inbox, twice: nothing new.
    for _ in range(2):
        async with deal.matching.uow() as uow:
            await handlers.on_review(review, event, uow)
            await uow.commit()
    assert await deal.count(Referral) == 2
    assert await deal.count(Notification) == notified
    assert len(await deal.outbox(events.ReferralSent.event_type)) == 2

    # The same answer twice is recorded once: one event, one notification.
    url = f"/v1/referrals/{referrals[0]['id']}"
    answer = {"status": "interested", "message": "We will study it."}
    first = ok(await client.post(f"{url}/response", json=answer, headers=deal.bank))
    second = ok(await client.post(f"{url}/response", json=answer, headers=deal.bank))
    assert first["version"] == second["version"]
    assert [s["kind"] for s in second["timeline"]] == ["sent", "response"]
    recorded = await deal.outbox(events.ProviderResponseRecorded.event_type)
    assert len(recorded) == 1
    await eventually(lambda: _has_kind(deal, deal.exporter, "referral.answered"), timeout=20)
    # Redelivered through the handler past the inbox: still one notification.
    answered = events.ProviderResponseRecorded.model_validate(recorded[0].payload)
    async with deal.matching.uow() as uow:
        await handlers.on_referral(recorded[0], answered, uow)
        await uow.commit()
    assert (await deal.kinds(deal.exporter)).count("referral.answered") == 1


async def test_an_expired_offer_cannot_be_accepted_and_the_scheduler_tells_both(
    deal: Deal,
) -> None:
    client = deal.client
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    url = f"/v1/referrals/{referral['id']}"
    ok(
        await client.post(
            f"{url}/response", json={"status": "offer", "terms": offer_terms()}, headers=deal.bank
        )
    )
    past = datetime.now(UTC) - timedelta(minutes=1)
    await deal.set_offer_validity(referral["id"], past)
    lapsed = await client.post(f"{url}/offer/accept", headers=deal.exporter)
    assert lapsed.status_code == 409 and lapsed.json()["type"].endswith("offer-expired")
    listed = ok(await client.get("/v1/referrals/offers", headers=deal.exporter))["items"]
    assert listed[0]["offer"]["expired"] is True

    async with deal.matching.uow() as uow:
        assert await deals.expire_due(uow, datetime.now(UTC)) == {"offers": 1, "consents": 0}
        await uow.commit()
    async with deal.matching.uow() as uow:
        assert await deals.expire_due(uow, datetime.now(UTC)) == {"offers": 0, "consents": 0}
    (decided,) = await deal.outbox(events.OfferDecided.event_type)
    assert decided.payload["offer_decision"] == "expired"
    await eventually(lambda: _has_kind(deal, deal.exporter, "offer.expired"), timeout=20)
    await eventually(lambda: _has_kind(deal, deal.bank, "offer.expired"), timeout=20)
    still = await client.post(f"{url}/offer/accept", headers=deal.exporter)
    assert still.status_code == 409
    # An offer in the past is refused up front.
    stale = {"status": "offer", "terms": {**offer_terms(), "valid_until": past.isoformat()}}
    refused = await client.post(f"{url}/response", json=stale, headers=deal.bank)
    assert refused.status_code in (409, 422)


async def test_a_consent_past_its_expiry_hides_the_identity_and_is_expired_once(
    deal: Deal,
) -> None:
    client = deal.client
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    exporter_id = await deal.exporter_id()
    soon = datetime.now(UTC) + timedelta(seconds=2)
    consent = {"provider_id": deal.catalogue.bank_id, "expires_at": soon.isoformat()}
    ok(
        await client.post(
            f"/v1/exporters/{exporter_id}/consents", json=consent, headers=deal.exporter
        ),
        201,
    )
    url = f"/v1/referrals/{referral['id']}"

    async def identified() -> bool:
        return ok(await client.get(url, headers=deal.bank))["exporter"]["anonymised"] is False

    await eventually(identified, timeout=20)

    async def hidden() -> bool:
        return shows_no_identity(ok(await client.get(url, headers=deal.bank)))

    # Hidden from the moment it expires, before any scheduler runs.
    await eventually(hidden, timeout=20)
    later = datetime.now(UTC) + timedelta(seconds=1)
    async with deal.matching.uow() as uow:
        assert (await deals.expire_due(uow, later))["consents"] == 1
        await uow.commit()
    async with deal.matching.uow() as uow:
        assert (await deals.expire_due(uow, later))["consents"] == 0
    assert "consent.expired" in await deal.kinds(deal.bank)
    assert "consent.expired" in await deal.kinds(deal.exporter)


async def test_bad_answers_are_422_and_change_nothing(deal: Deal) -> None:
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    url = f"/v1/referrals/{referral['id']}/response"
    bad = [
        {"status": "info_requested"},
        {"status": "offer"},
        {"status": "offer", "terms": {**offer_terms(), "currency": "XXY"}},
        {"status": "offer", "terms": {**offer_terms(), "amount": "-1"}},
        {"status": "offer", "terms": {**offer_terms(), "amount": "10.123"}},
        {"status": "offer", "terms": {**offer_terms(), "rate_pct": 250}},
        {"status": "offer", "terms": {**offer_terms(), "tenor_days": 0}},
        {"status": "declined"},
        {"status": "declined", "reason_code": "because"},
        {"status": "declined", "reason_code": "other"},
        {"status": "interested", "reason_code": "capacity"},
        {"status": "interested", "terms": offer_terms()},
        {"status": "interested", "message": "\u202eevil"},
        {"status": "interested", "extra": 1},
        {"status": "accepted"},
    ]
    for body in bad:
        response = await deal.client.post(url, json=body, headers=deal.bank)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    after = ok(await deal.client.get(f"/v1/referrals/{referral['id']}", headers=deal.bank))
    assert after["status"] == "sent" and after["version"] == 1
    declined = {"status": "declined", "reason_code": "capacity"}
    ok(await deal.client.post(url, json=declined, headers=deal.bank))
    closed = await deal.client.post(url, json={"status": "interested"}, headers=deal.bank)
    assert closed.status_code == 409
    assert (
        await deal.client.post(
            f"/v1/referrals/{referral['id']}/reply", json={"message": "?"}, headers=deal.exporter
        )
    ).status_code == 409


async def test_every_referral_declined_declines_the_request(deal: Deal) -> None:
    await deal.approve("eligible", "bundled")
    for referral in await deal.referred(2):
        url = f"/v1/referrals/{referral['id']}/response"
        body = {"status": "declined", "reason_code": "outside_risk_appetite"}
        ok(await deal.client.post(url, json=body, headers=deal.bank))
    await eventually(lambda: _status_is(deal, "declined"), timeout=20)


async def test_notifications_count_once_per_event(deal: Deal) -> None:
    """No notification shares its cause and audience with another."""
    await deal.approve("eligible", "bundled")
    await deal.referred(2)
    await eventually(lambda: _has_kind(deal, deal.exporter, "review.approved"), timeout=20)
    async with deal.matching.sessions() as session:
        keys = (await session.exec(select(Notification.dedupe_key))).all()
        total = (await session.exec(select(func.count(col(Notification.id))))).one()
    assert len(set(keys)) == len(keys) == total


async def test_after_a_declined_or_lapsed_offer_the_provider_may_offer_again_or_decline(
    deal: Deal,
) -> None:
    client = deal.client
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    url = f"/v1/referrals/{referral['id']}"
    offer = {"status": "offer", "terms": offer_terms()}
    ok(await client.post(f"{url}/response", json=offer, headers=deal.bank))
    declined = ok(await client.post(f"{url}/offer/decline", headers=deal.exporter))
    assert declined["offer"]["decision"] == "declined"
    again = await client.post(f"{url}/offer/decline", headers=deal.exporter)
    assert again.status_code == 409 and again.json()["type"].endswith("no-open-offer")
    better = {"status": "offer", "terms": {**offer_terms(), "rate_pct": 4.5}}
    renewed = ok(await client.post(f"{url}/response", json=better, headers=deal.bank))
    assert renewed["offer"]["decision"] is None and renewed["offer"]["rate_pct"] == 4.5
    await deal.set_offer_validity(referral["id"], datetime.now(UTC) - timedelta(minutes=1))
    async with deal.matching.uow() as uow:
        assert (await deals.expire_due(uow, datetime.now(UTC)))["offers"] == 1
        await uow.commit()
    lapsed = await client.post(f"{url}/offer/accept", headers=deal.exporter)
    assert lapsed.status_code == 409 and lapsed.json()["type"].endswith("offer-expired")
    closing = {"status": "declined", "reason_code": "capacity"}
    assert ok(await client.post(f"{url}/response", json=closing, headers=deal.bank))["status"] == (
        "declined"
    )
    await eventually(lambda: _status_is(deal, "declined"), timeout=20)


async def test_a_time_without_a_zone_is_a_422_not_a_500(deal: Deal) -> None:
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    url = f"/v1/referrals/{referral['id']}/response"
    for naive in ("2030-01-31T18:00:00", "2030-01-31"):
        body = {"status": "offer", "terms": {**offer_terms(), "valid_until": naive}}
        response = await deal.client.post(url, json=body, headers=deal.bank)
        assert response.status_code == 422, response.text
        assert "valid_until" in response.text


async def test_a_replayed_review_answers_as_the_first(deal: Deal) -> None:
    headers = {**ADVISOR, "Idempotency-Key": "review-once", "Accept-Language": "fr"}
    body = {"decision": "approve", "product_ids": [deal.catalogue.ids["eligible"]]}
    first = await deal.client.post(f"{deal.set_url}/review", json=body, headers=headers)
    replay = await deal.client.post(f"{deal.set_url}/review", json=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()
    assert replay.json()["audit"][-1]["action"] == "approved"
    assert replay.json()["language"] == "fr"


async def test_a_request_approved_twice_is_declined_only_when_every_referral_is(
    deal: Deal,
) -> None:
    await deal.approve("eligible")
    (first,) = await deal.referred(1)
    await deal.approve("bundled")
    referrals = await deal.referred(2)
    (second,) = [r for r in referrals if r["id"] != first["id"]]
    decline = {"status": "declined", "reason_code": "capacity"}
    ok(
        await deal.client.post(
            f"/v1/referrals/{second['id']}/response", json=decline, headers=deal.bank
        )
    )
    exporters = deal.system.runtimes["exporters"]

    async def exporters_heard_the_decline() -> bool:
        async with exporters.sessions() as session:
            row = await session.get(ReferralProjection, UUID(second["id"]))
        return row is not None and row.status == "declined"

    await eventually(exporters_heard_the_decline, timeout=20)
    assert await deal.request_status() == "referred"  # one referral is still open
    ok(
        await deal.client.post(
            f"/v1/referrals/{first['id']}/response", json=decline, headers=deal.bank
        )
    )
    await eventually(lambda: _status_is(deal, "declined"), timeout=20)


def test_the_documented_decline_reasons_are_those_the_api_takes() -> None:
    from typing import get_args

    from matching.entrypoints.referrals import DeclineReason

    assert set(get_args(DeclineReason)) == set(deals.DECLINE_REASONS)


async def test_a_withdrawn_request_is_read_but_not_put_in_review(deal: Deal) -> None:
    url = f"/v1/financing-requests/{deal.catalogue.request_id}/withdraw"
    ok(await deal.client.post(url, headers=deal.exporter))

    async def matching_heard() -> bool:
        async with deal.matching.uow() as uow:
            row = await uow.requests.get(UUID(deal.catalogue.request_id))
            return row is not None and row.status == "withdrawn"

    await eventually(matching_heard, timeout=20)
    read = ok(await deal.client.get(deal.set_url, headers=ADVISOR))
    assert read["status"] == "proposed" and read["audit"] == []
    review = await deal.client.post(
        f"{deal.set_url}/review", json={"decision": "approve"}, headers=ADVISOR
    )
    assert review.status_code == 409 and review.json()["type"].endswith("request-closed")


async def test_a_withdrawal_after_referral_tells_the_provider_and_stops_its_answers(
    deal: Deal,
) -> None:
    await deal.approve("eligible")
    (referral,) = await deal.referred(1)
    url = f"/v1/financing-requests/{deal.catalogue.request_id}/withdraw"
    ok(await deal.client.post(url, headers=deal.exporter))
    await eventually(lambda: _has_kind(deal, deal.bank, "request.withdrawn"), timeout=20)
    answer = {"status": "interested"}
    late = await deal.client.post(
        f"/v1/referrals/{referral['id']}/response", json=answer, headers=deal.bank
    )
    assert late.status_code == 409 and late.json()["type"].endswith("request-closed")
