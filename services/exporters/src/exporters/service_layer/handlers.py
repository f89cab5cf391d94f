"""Event handlers of exporters. Each runs inside the consumer's unit of work and never commits.

The matching service's events move a financing request down its status table
(`domain.financing_request`); an event that would move it back changes nothing, so duplicates
and late events are harmless. Referrals are projected, because a request is `declined` only
once every one of its referrals is.
"""

from __future__ import annotations

import logging
from uuid import UUID

from tasdir.contracts import Envelope, events, utcnow
from tasdir.messaging.consumer import EventHandler

from exporters.domain.financing_request import FinancingRequest
from exporters.service_layer.uow import ExportersUnitOfWork

log = logging.getLogger(__name__)

MATCH_SET_STATUS = {
    "proposed": "matched",
    "in_review": "in_review",
    "approved": "referred",
    "rejected": "rejected",
}


async def project_provider(
    envelope: Envelope, event: events.ProviderSnapshot, uow: ExportersUnitOfWork
) -> None:
    await uow.providers.apply_event(envelope, event)


async def _request(uow: ExportersUnitOfWork, request_id: UUID) -> FinancingRequest | None:
    request = await uow.requests.get_for_update(request_id)
    if request is None:
        log.warning(
            "an event names an unknown financing request", extra={"request": str(request_id)}
        )
    return request


async def _advance(uow: ExportersUnitOfWork, request_id: UUID, status: str) -> None:
    request = await _request(uow, request_id)
    if request is None:
        return
    if status == "closed":
        closed = request.close(now=utcnow())
        if closed is not None:
            uow.requests.save(request)
            uow.emit(request, closed)
        return
    if request.advance(status, now=utcnow()):
        uow.requests.save(request)


async def on_match_set(
    envelope: Envelope, event: events.MatchSetSnapshot, uow: ExportersUnitOfWork
) -> None:
    await _advance(uow, event.request_id, MATCH_SET_STATUS[event.status])


async def on_review(
    envelope: Envelope, event: events.ReviewCompleted, uow: ExportersUnitOfWork
) -> None:
    if event.decision == "reject":
        await _advance(uow, event.request_id, "rejected")
        return
    request = await _request(uow, event.request_id)
    if request is None:
        return
    request.expect_referrals(len(event.product_ids))
    request.advance("referred", now=utcnow())
    # Refusals may have arrived before the review that announced them.
    if request.all_declined(await uow.referrals.declined(request.id)):
        request.advance("declined", now=utcnow())
    uow.requests.save(request)


async def on_referral(
    envelope: Envelope, event: events.ReferralSnapshot, uow: ExportersUnitOfWork
) -> None:
    await uow.referrals.apply_event(envelope, event)
    if event.offer_decision == "accepted":
        await _advance(uow, event.request_id, "closed")
        return
    if event.status == "offer":
        await _advance(uow, event.request_id, "offered")
    elif event.status == "declined":
        request = await _request(uow, event.request_id)
        if request is not None and request.all_declined(await uow.referrals.declined(request.id)):
            await _advance(uow, request.id, "declined")
        else:
            await _advance(uow, event.request_id, "referred")
    else:
        await _advance(uow, event.request_id, "referred")


HANDLERS: dict[str, EventHandler[ExportersUnitOfWork]] = {
    events.ProviderRegistered.event_type: project_provider,
    events.ProviderUpdated.event_type: project_provider,
    events.MatchSetProposed.event_type: on_match_set,
    events.MatchSetUpdated.event_type: on_match_set,
    events.ReviewCompleted.event_type: on_review,
    events.ReferralSent.event_type: on_referral,
    events.ProviderResponseRecorded.event_type: on_referral,
    events.OfferDecided.event_type: on_referral,
    events.ReferralReplied.event_type: on_referral,
}
