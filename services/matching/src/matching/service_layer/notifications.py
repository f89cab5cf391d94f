"""Notifications: what each party is told, stored per audience (docs/notifications.md).

An audience names who reads a notification:
- `org:<org>`: the users of an exporter organisation;
- `provider:<id>`: the users of a provider;
- `region:<code>`: the advisors of a region.

An admin reads every audience. Each notification has a `dedupe_key` naming its cause (an event
id, say) and its audience: a redelivered event or a second run of the scheduler finds the key
taken and notifies nobody twice. The ids grow, and the server-sent event stream resumes from
one (`Last-Event-ID`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from tasdir.auth import Principal
from tasdir.json_types import JsonObject

from matching.adapters.orm import Notification
from matching.service_layer.uow import MatchingUnitOfWork

#: Every kind of notification, and what it tells (the `data` names the objects).
KINDS: dict[str, str] = {
    "match_set.proposed": "A new match set is in the review queue.",
    "match_set.ready": "Your request has ranked matches.",
    "match_set.new_fits": "An approved match set has new fits since its review.",
    "review.approved": "An advisor approved matches of your request; referrals are sent.",
    "review.rejected": "An advisor rejected your request's matches.",
    "referral.received": "A new referral is waiting for your answer.",
    "referral.answered": "A provider answered a referral.",
    "referral.replied": "The exporter answered your question.",
    "offer.accepted": "The exporter accepted your offer.",
    "offer.declined": "The exporter declined your offer.",
    "offer.expired": "An offer lapsed before it was accepted.",
    "consent.granted": "An exporter consented to share its file with you.",
    "consent.revoked": "An exporter revoked its consent.",
    "consent.expired": "A consent to share an exporter's file has expired.",
    "request.withdrawn": "The exporter withdrew a request referred to you.",
}


def org_audience(org: str) -> str:
    return f"org:{org}"


def provider_audience(provider_id: UUID | str) -> str:
    return f"provider:{provider_id}"


def region_audience(region: str) -> str:
    return f"region:{region}"


def audiences_of(principal: Principal) -> list[str] | None:
    """The audiences a principal reads; None for an admin, who reads them all."""
    if principal.role == "admin":
        return None
    if principal.role == "advisor":
        return [region_audience(r) for r in principal.regions]
    if principal.role == "provider":
        return [] if principal.provider_id is None else [provider_audience(principal.provider_id)]
    return [org_audience(principal.org)]


async def notify(
    uow: MatchingUnitOfWork,
    audiences: Iterable[str],
    kind: str,
    data: JsonObject,
    *,
    cause: str,
    now: datetime,
) -> int:
    """Store one notification per audience, in the caller's transaction, unless its cause
    already did; answers how many were new. `cause` names what caused it (an event id, or
    `offer-expired:<referral id>`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    added = 0
    for audience in dict.fromkeys(audiences):
        row = Notification(
            audience=audience,
            kind=kind,
            data=data,
            created_at=now,
            dedupe_key=_key(cause, audience),
        )
        added += await uow.notifications.add_once(row)
    return added


def _key(cause: str, audience: str) -> str:
    key = f"{cause}:{audience}"
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def message(kind: str) -> str:
    return KINDS.get(kind, kind)


__all__: Sequence[str] = (
    "KINDS",
    "audiences_of",
    "message",
    "notify",
    "org_audience",
    "provider_audience",
    "region_audience",
)
