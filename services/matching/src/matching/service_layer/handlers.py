"""Event handlers of matching. Each runs inside the consumer's unit of work and never commits.

Matching's queue has a single active consumer, so these apply in order. A projection takes an
event only if it is newer than what it holds (`aggregate_version`), so a duplicate or a late
event changes nothing and re-matches nothing. Every change it takes bumps `catalogue_seq` and
stamps the row with it, in the same transaction, and then re-matches what the change can
alter (docs/matching.md):

- a request submitted or amended: that request;
- a product published or withdrawn: the open requests holding it or that it could now fit
  (and, for a guarantee or insurance product, those it could be bundled into);
- a provider changed: the same, for each of its products;
- an exporter's profile changed: that exporter's open requests.

Matching also takes its own deal-flow events: `review.completed` sends the referrals (one per
approved product, never twice), and each step notifies its parties (`notifications`), once per
event whatever the redeliveries.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from tasdir.contracts import Envelope, events
from tasdir.contracts.base import utcnow
from tasdir.correlation import bind
from tasdir.json_types import JsonObject
from tasdir.messaging.consumer import Batched, EventHandler

from matching.domain.facts import Product
from matching.service_layer import deals, notifications
from matching.service_layer.matcher import (
    Matcher,
    affected_by_product,
    forget_matchers,
    matcher_for,
    rematch,
)
from matching.service_layer.uow import MatchingUnitOfWork

log = logging.getLogger(__name__)

_Exporter = tuple[Envelope, events.ExporterSnapshot]


async def _in_step(uow: MatchingUnitOfWork, work: Callable[[Matcher], Awaitable[None]]) -> None:
    """Run `work` with the database's matcher brought up to date. If it fails, the matcher may
    hold rows of a transaction that will roll back: it is dropped, and rebuilt next time."""
    matcher = matcher_for(uow)
    try:
        await matcher.sync(uow)
        await work(matcher)
    except BaseException:
        forget_matchers()
        raise


async def _bump(uow: MatchingUnitOfWork, stamp: Callable[[int], Awaitable[None]]) -> None:
    seq = await uow.catalogue.bump()
    await stamp(seq)


async def project_exporter(
    envelope: Envelope, event: events.ExporterSnapshot, uow: MatchingUnitOfWork
) -> None:
    await project_exporters([(envelope, event)], uow)


async def project_exporters(items: Sequence[_Exporter], uow: MatchingUnitOfWork) -> None:
    """`project_exporter` for consecutive exporter events in one transaction, a round at a time
    (`_rounds`)."""
    for round_ in _rounds(items):
        await _project_exporter_round(round_, uow)


async def _project_exporter_round(round_: Sequence[_Exporter], uow: MatchingUnitOfWork) -> None:
    """Events of distinct exporters: one upsert, one `catalogue_seq` bump, one sync (one query
    of the changed exporters' requests), then each changed exporter's open requests re-matched,
    with the correlation id of the event that changed it bound, in the order of the events."""

    async def work(matcher: Matcher) -> None:
        changed = await uow.exporters.apply_events(round_)
        if not changed:
            return
        await _bump(uow, lambda seq: uow.exporters.mark_all_changed(changed, seq))
        await matcher.sync(uow)
        tally: Counter[str] = Counter()
        for envelope, event in round_:
            if event.id in changed:
                bind(envelope.correlation_id, str(envelope.event_id))
                tally.update(await rematch(uow, matcher, matcher.requests.of_exporter(event.id)))
        log.info("%d exporter(s) changed: %s", len(changed), dict(tally))

    await _in_step(uow, work)


def _rounds(items: Sequence[_Exporter]) -> list[list[_Exporter]]:
    """The batch cut into runs of consecutive events of distinct aggregates. Events of distinct
    exporters re-match distinct requests, so a round applied at once ends as one by one would;
    a second event of an exporter (a later version, a duplicate) waits for the next round, so
    that its earlier version is matched as it would have been alone, and only the versions
    that change a set materially make new versions of it."""
    rounds: list[list[_Exporter]] = []
    seen: set[UUID] = set()
    for envelope, event in items:
        if not rounds or event.id in seen:
            rounds.append([])
            seen.clear()
        seen.add(event.id)
        rounds[-1].append((envelope, event))
    return rounds


async def project_provider(
    envelope: Envelope, event: events.ProviderSnapshot, uow: MatchingUnitOfWork
) -> None:
    async def work(matcher: Matcher) -> None:
        if not await uow.providers.apply_event(envelope, event):
            return
        rows = await uow.products.of_providers([event.id])
        before = {row.id: matcher.products.product(row.id) for row in rows}
        await _bump(uow, lambda seq: uow.providers.mark_changed(event.id, seq))
        await matcher.sync(uow)
        await _rematch_products(uow, matcher, before)

    await _in_step(uow, work)


async def project_product(
    envelope: Envelope, event: events.ProductSnapshot, uow: MatchingUnitOfWork
) -> None:
    async def work(matcher: Matcher) -> None:
        if not await uow.products.apply_event(envelope, event):
            return
        before = {event.id: matcher.products.product(event.id)}
        await _bump(uow, lambda seq: uow.products.mark_changed(event.id, seq))
        await matcher.sync(uow)
        await _rematch_products(uow, matcher, before)

    await _in_step(uow, work)


async def _rematch_products(
    uow: MatchingUnitOfWork, matcher: Matcher, before: dict[UUID, Product | None]
) -> None:
    today = utcnow().date()
    affected: set[UUID] = set()
    # Financing products alone change no other product's outcome: the sets keep the entries
    # of the others. A guarantee or an insurance product changes the bundles of others.
    financing_only = True
    for product_id, old in before.items():
        new = matcher.products.product(product_id)
        affected |= await affected_by_product(uow, matcher, product_id, old, new, today)
        financing_only &= not any(p is not None and p.is_bundle_product for p in (old, new))
    tally = await rematch(uow, matcher, affected, keep=financing_only)
    log.info("products %s changed: %s", sorted(map(str, before)), tally)


async def project_request(
    envelope: Envelope, event: events.FinancingRequestSnapshot, uow: MatchingUnitOfWork
) -> None:
    async def work(matcher: Matcher) -> None:
        if not await uow.requests.apply_event(envelope, event):
            return
        await _bump(uow, lambda seq: uow.requests.mark_changed(event.id, seq))
        await matcher.sync(uow)
        await rematch(uow, matcher, [event.id])
        if isinstance(event, events.FinancingRequestWithdrawn):
            await _tell_providers_withdrawn(envelope, event, uow)

    await _in_step(uow, work)


async def _tell_providers_withdrawn(
    envelope: Envelope, event: events.FinancingRequestSnapshot, uow: MatchingUnitOfWork
) -> None:
    """The providers of a withdrawn request's referrals stop working on it."""
    for referral in await uow.referrals.of_request(event.id):
        await notifications.notify(
            uow,
            [notifications.provider_audience(referral.provider_id)],
            "request.withdrawn",
            {"referral_id": str(referral.id), "request_id": str(event.id)},
            cause=_cause(envelope),
            now=utcnow(),
        )


async def project_consent(
    envelope: Envelope, event: events.ConsentSnapshot, uow: MatchingUnitOfWork
) -> None:
    if not await uow.consents.apply_event(envelope, event):
        return
    kind = "consent.granted" if event.status == "granted" else "consent.revoked"
    await notifications.notify(
        uow,
        [notifications.provider_audience(event.provider_id)],
        kind,
        {"exporter_id": str(event.exporter_id), "provider_id": str(event.provider_id)},
        cause=_cause(envelope),
        now=utcnow(),
    )


# ---- the deal flow: matching's own events send the referrals and notify the parties


def _cause(envelope: Envelope) -> str:
    """What a notification is about: the aggregate's event it comes from. A redelivery, or the
    same event wrapped again (a republish), names the same cause, so it notifies nobody twice."""
    return f"{envelope.type}:{envelope.aggregate_id}:{envelope.aggregate_version}"


async def on_match_set(
    envelope: Envelope, event: events.MatchSetSnapshot, uow: MatchingUnitOfWork
) -> None:
    data: JsonObject = {"request_id": str(event.request_id), "version": event.version}
    now = utcnow()
    if isinstance(event, events.MatchSetProposed):
        await notifications.notify(
            uow,
            [notifications.region_audience(event.region)],
            "match_set.proposed",
            data,
            cause=_cause(envelope),
            now=now,
        )
        await notifications.notify(
            uow,
            [notifications.org_audience(event.org)],
            "match_set.ready",
            data,
            cause=_cause(envelope),
            now=now,
        )
    elif event.status == "approved" and any(m.new_since_review for m in event.matches):
        # One notice per version: a status change re-sends the same version's fits.
        await notifications.notify(
            uow,
            [notifications.region_audience(event.region)],
            "match_set.new_fits",
            data,
            cause=f"new-fits:{event.request_id}:v{event.version}",
            now=now,
        )


async def on_review(
    envelope: Envelope, event: events.ReviewCompleted, uow: MatchingUnitOfWork
) -> None:
    now = utcnow()
    data: JsonObject = {"request_id": str(event.request_id), "review_id": str(event.id)}
    if event.decision == "reject":
        data["note"] = event.note
        kind = "review.rejected"
    else:
        sent = await deals.send_referrals(uow, event, now)
        log.info("review %s sent %d referral(s)", event.id, len(sent))
        data["product_ids"] = [str(p) for p in event.product_ids]
        kind = "review.approved"
    await notifications.notify(
        uow,
        [notifications.org_audience(event.org)],
        kind,
        data,
        cause=_cause(envelope),
        now=now,
    )


async def on_referral(
    envelope: Envelope, event: events.ReferralSnapshot, uow: MatchingUnitOfWork
) -> None:
    data: JsonObject = {
        "referral_id": str(event.id),
        "request_id": str(event.request_id),
        "provider_id": str(event.provider_id),
        "product_id": str(event.product_id),
        "status": event.status,
    }
    provider = [notifications.provider_audience(event.provider_id)]
    exporter = [notifications.org_audience(event.org)]
    if isinstance(event, events.ReferralSent):
        told, kind = provider, "referral.received"
    elif isinstance(event, events.ProviderResponseRecorded):
        told, kind = exporter, "referral.answered"
        if event.response is not None:
            data["message"] = event.response.message
    elif isinstance(event, events.ReferralReplied):
        told, kind = provider, "referral.replied"
    elif isinstance(event, events.OfferDecided) and event.offer_decision is not None:
        data["decision"] = event.offer_decision
        told, kind = provider, f"offer.{event.offer_decision}"
        if event.offer_decision == "expired":
            told = provider + exporter
    else:
        return
    await notifications.notify(uow, told, kind, data, cause=_cause(envelope), now=utcnow())


_EXPORTERS = Batched[MatchingUnitOfWork](project_exporter, project_exporters)

HANDLERS: dict[str, EventHandler[MatchingUnitOfWork]] = {
    events.ExporterRegistered.event_type: _EXPORTERS,
    events.ExporterUpdated.event_type: _EXPORTERS,
    events.ExporterDeactivated.event_type: _EXPORTERS,
    events.ProviderRegistered.event_type: project_provider,
    events.ProviderUpdated.event_type: project_provider,
    events.ProductPublished.event_type: project_product,
    events.ProductWithdrawn.event_type: project_product,
    events.FinancingRequestSubmitted.event_type: project_request,
    events.FinancingRequestAmended.event_type: project_request,
    events.FinancingRequestWithdrawn.event_type: project_request,
    events.FinancingRequestClosed.event_type: project_request,
    events.ConsentGranted.event_type: project_consent,
    events.ConsentRevoked.event_type: project_consent,
    events.MatchSetProposed.event_type: on_match_set,
    events.MatchSetUpdated.event_type: on_match_set,
    events.ReviewCompleted.event_type: on_review,
    events.ReferralSent.event_type: on_referral,
    events.ProviderResponseRecorded.event_type: on_referral,
    events.ReferralReplied.event_type: on_referral,
    events.OfferDecided.event_type: on_referral,
}
