"""The deal flow: an advisor's review, the referrals it sends, the providers' answers, the
exporter's replies and its decision on an offer, and the expiries (docs/lifecycles.md).

Every change writes its event into the outbox in the same transaction. The referrals are made
by the event consumer from `review.completed` (one per approved product, unique per request and
product), so a redelivered review sends nothing twice. Who may do what is decided here, from the
principal: another tenant's object is a 404, a state that forbids the action a 409.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal
from uuid import UUID, uuid4

from tasdir.auth import Principal
from tasdir.contracts import events
from tasdir.domain import Violations
from tasdir.errors import Conflict, NotFound
from tasdir.json_types import JsonObject, JsonValue
from tasdir.reference import is_currency, minor_units
from tasdir.text import clean_text

from matching.adapters.orm import (
    AccessLogEntry,
    AuditEntry,
    ExporterProjection,
    MatchSet,
    Referral,
    ReferralStep,
)
from matching.service_layer import notifications
from matching.service_layer.matcher import FINAL_REQUEST_STATUSES, emit_match_set
from matching.service_layer.uow import MatchingUnitOfWork

NOTE_MAX = 2000
TENOR_MAX_DAYS = 3650
MAX_AMOUNT = Decimal("1e15")

#: Why a provider declines a referral (`reason_code`); docs/lifecycles.md lists them too.
DECLINE_REASONS: dict[str, str] = {
    "outside_risk_appetite": "The risk is outside the provider's appetite.",
    "insufficient_collateral": "The collateral or guarantee offered is not enough.",
    "incomplete_file": "The exporter's file lacks documents the provider needs.",
    "amount_out_of_range": "The amount is outside what the provider lends for this product.",
    "tenor_out_of_range": "The tenor is outside what the provider offers.",
    "sector_excluded": "The provider does not finance this sector.",
    "destination_excluded": "The provider does not cover this destination or buyer.",
    "credit_history": "The exporter's credit history does not meet the provider's policy.",
    "capacity": "The provider has no capacity for new business now.",
    "other": "Another reason, given in `message`.",
}

ResponseStatus = Literal["interested", "info_requested", "offer", "declined"]


# ---------------------------------------------------------------- who sees what


def sees_set(principal: Principal, match_set: MatchSet) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "advisor":
        return match_set.region in principal.regions
    return principal.role == "exporter" and match_set.org == principal.org


def sees_referral(principal: Principal, referral: Referral) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "advisor":
        return referral.region in principal.regions
    if principal.role == "provider":
        return principal.provider_id == referral.provider_id
    return principal.role == "exporter" and referral.org == principal.org


# ---------------------------------------------------------------- review


@dataclass(frozen=True)
class Review:
    request_id: UUID
    decision: Literal["approve", "reject"]
    product_ids: tuple[UUID, ...] | None
    note: str | None
    version: int | None


def _audit(
    match_set: MatchSet,
    action: str,
    principal: Principal,
    now: datetime,
    *,
    product_ids: tuple[UUID, ...] = (),
    note: str | None = None,
) -> AuditEntry:
    return AuditEntry(
        id=uuid4(),
        request_id=match_set.request_id,
        action=action,
        actor=principal.sub,
        actor_role=principal.role,
        match_set_version=match_set.version,
        product_ids=[str(p) for p in product_ids],
        note=note,
        at=now,
    )


async def open_set(
    uow: MatchingUnitOfWork, request_id: UUID, principal: Principal, now: datetime
) -> bool:
    """The first time an advisor opens a proposed set it moves to `in_review`; whether it did."""
    if principal.role != "advisor":
        return False
    match_set = await uow.match_sets.get_for_update(request_id)
    if match_set is None or match_set.status != "proposed" or not sees_set(principal, match_set):
        return False
    request = await uow.requests.get(request_id)
    if request is None or request.status in FINAL_REQUEST_STATUSES:
        return False  # a withdrawn request is read, not reviewed
    match_set.status = "in_review"
    uow.match_sets.add(match_set)
    uow.audit.add(_audit(match_set, "opened", principal, now))
    emit_match_set(uow, match_set, events.MatchSetUpdated)
    return True


async def _referred(uow: MatchingUnitOfWork, request_id: UUID) -> set[str]:
    """The product ids already approved for a request (referrals may still be on their way)."""
    approved: set[str] = set()
    for entry in await uow.audit.of_request(request_id):
        if entry.action == "approved":
            approved.update(entry.product_ids)
    return approved


async def review(
    uow: MatchingUnitOfWork, command: Review, principal: Principal, now: datetime
) -> tuple[MatchSet, AuditEntry]:
    """Approve some or all matches, or reject them with a note. A set already approved takes
    a further approval of matches not yet approved (its `new_since_review` fits)."""
    match_set = await uow.match_sets.get_for_update(command.request_id)
    if match_set is None or not sees_set(principal, match_set):
        raise NotFound("no match set for this request")
    request = await uow.requests.get(command.request_id)
    if request is None or request.status in FINAL_REQUEST_STATUSES:
        raise Conflict(
            "the request is closed, withdrawn or decided: it cannot be reviewed",
            kind="request-closed",
        )
    if command.version is not None and command.version != match_set.version:
        raise Conflict(
            f"the match set is at version {match_set.version}, not {command.version}: "
            "read it again before reviewing",
            kind="stale-match-set",
        )
    if match_set.status == "rejected":
        raise Conflict("the match set was rejected already", kind="already-reviewed")
    if command.decision == "reject":
        if match_set.status == "approved":
            raise Conflict(
                "the match set was approved already: its referrals are sent",
                kind="already-reviewed",
            )
        entry = _audit(match_set, "rejected", principal, now, note=command.note)
        match_set.status = "rejected"
    else:
        chosen = _chosen(match_set, command.product_ids, await _referred(uow, match_set.request_id))
        entry = _audit(match_set, "approved", principal, now, product_ids=chosen, note=command.note)
        match_set.status = "approved"
    uow.match_sets.add(match_set)
    uow.audit.add(entry)
    emit_match_set(uow, match_set, events.MatchSetUpdated)
    uow.outbox.add(
        events.ReviewCompleted(
            id=entry.id,
            request_id=match_set.request_id,
            exporter_id=match_set.exporter_id,
            org=match_set.org,
            match_set_version=match_set.version,
            decision=command.decision,
            product_ids=tuple(UUID(p) for p in entry.product_ids),
            note=entry.note,
            reviewer=principal.sub,
            reviewed_at=now,
        ),
        aggregate_id=entry.id,
        aggregate_version=1,
    )
    return match_set, entry


def _chosen(
    match_set: MatchSet, asked: tuple[UUID, ...] | None, referred: set[str]
) -> tuple[UUID, ...]:
    listed = [str(m.get("product_id")) for m in match_set.matches]
    if asked is None:
        chosen = [p for p in listed if p not in referred]
        if not chosen:
            raise Conflict(
                "every match of this set is approved already, or it has none",
                kind="nothing-to-approve",
            )
        return tuple(UUID(p) for p in chosen)
    unknown = [str(p) for p in asked if str(p) not in listed]
    if unknown:
        broken = Violations(kind="not-a-match")
        broken.add("product_ids", f"not matches of this set: {', '.join(unknown)}")
        broken.raise_if_any()
    again = [str(p) for p in asked if str(p) in referred]
    if again:
        raise Conflict(f"approved already: {', '.join(again)}", kind="already-referred")
    return asked


# ---------------------------------------------------------------- referrals


def _size_band(profile: events.ExporterSnapshot) -> str:
    """Micro, small, medium or large, by turnover (MAD) or else by headcount; `unknown`."""
    turnover = profile.annual_turnover_mad
    if turnover is not None:
        if turnover < 10_000_000:
            return "micro"
        if turnover < 75_000_000:
            return "small"
        if turnover < 200_000_000:
            return "medium"
        return "large"
    if profile.employees is not None:
        if profile.employees < 10:
            return "micro"
        if profile.employees < 50:
            return "small"
        if profile.employees < 250:
            return "medium"
        return "large"
    return "unknown"


def _anonymous_facts(
    request: events.FinancingRequestSnapshot, profile: events.ExporterSnapshot | None
) -> tuple[JsonObject, JsonObject]:
    """What a provider sees before consent: the request's terms, and of the exporter only its
    region, size band and sectors (HS chapters)."""
    terms: JsonObject = {
        "instrument": request.instrument,
        "amount": str(request.amount),
        "currency": request.currency,
        "tenor_days": request.tenor_days,
        "destination": request.destination,
        "hs_codes": list(request.hs_codes),
        "purpose": request.purpose,
        "payment_terms": request.payment_terms,
        "needed_by": None if request.needed_by is None else request.needed_by.isoformat(),
    }
    chapters = sorted({code[:2] for code in request.hs_codes})
    facts: JsonObject = {
        "region": request.region or (profile.region if profile else None),
        "size_band": "unknown" if profile is None else _size_band(profile),
        "hs_chapters": list[JsonValue](chapters),
    }
    return terms, facts


async def send_referrals(
    uow: MatchingUnitOfWork, event: events.ReviewCompleted, now: datetime
) -> list[Referral]:
    """One referral per approved product, unless it exists already (a redelivered review)."""
    match_set = await uow.match_sets.get(event.request_id)
    request_row = await uow.requests.get(event.request_id)
    if match_set is None or request_row is None:
        return []
    request = events.FinancingRequestSnapshot.model_validate_json(request_row.snapshot)
    exporter_row = await uow.exporters.get(event.exporter_id)
    profile = (
        None
        if exporter_row is None
        else events.ExporterSnapshot.model_validate_json(exporter_row.snapshot)
    )
    terms, facts = _anonymous_facts(request, profile)
    listed = {str(m.get("product_id")): m for m in match_set.matches}
    sent: list[Referral] = []
    for product_id in event.product_ids:
        match = listed.get(str(product_id))
        if match is None or await uow.referrals.find(event.request_id, product_id) is not None:
            continue
        bundle = match.get("bundle")
        referral = Referral(
            id=uuid4(),
            review_id=event.id,
            request_id=event.request_id,
            exporter_id=event.exporter_id,
            org=event.org,
            region=match_set.region,
            provider_id=UUID(str(match.get("provider_id"))),
            product_id=product_id,
            product_version=int(str(match.get("product_version"))),
            product_name=_object(match.get("name")),
            match={
                key: match.get(key)
                for key in ("tier", "score", "score_components", "all_in_cost_pct", "instrument")
            },
            bundle=[_object(b) for b in (bundle if isinstance(bundle, list) else [])],
            request=terms,
            profile=facts,
            status="sent",
            sent_at=now,
            version=1,
        )
        uow.referrals.add(referral)
        _step(uow, referral, "sent", "system", "system", {"review_id": str(event.id)}, now)
        emit_referral(uow, referral, events.ReferralSent)
        sent.append(referral)
    return sent


def _object(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _step(
    uow: MatchingUnitOfWork,
    referral: Referral,
    kind: str,
    actor: str,
    role: str,
    detail: JsonObject,
    now: datetime,
) -> None:
    uow.referrals.add_step(
        ReferralStep(
            referral_id=referral.id, kind=kind, actor=actor, actor_role=role, detail=detail, at=now
        )
    )


def referral_snapshot(referral: Referral) -> dict[str, object]:
    return {
        "id": referral.id,
        "request_id": referral.request_id,
        "exporter_id": referral.exporter_id,
        "org": referral.org,
        "provider_id": referral.provider_id,
        "product_id": referral.product_id,
        "product_version": referral.product_version,
        "bundle": [b.get("product_id") for b in referral.bundle],
        "status": referral.status,
        "sent_at": referral.sent_at,
        "response": referral.response,
        "offer_decision": referral.offer_decision,
        "decided_at": referral.decided_at,
        "reply": referral.reply,
    }


def emit_referral(
    uow: MatchingUnitOfWork, referral: Referral, kind: type[events.ReferralSnapshot]
) -> None:
    uow.outbox.add(
        kind.model_validate(referral_snapshot(referral)),
        aggregate_id=referral.id,
        aggregate_version=referral.version,
    )


async def _own_referral(
    uow: MatchingUnitOfWork, referral_id: UUID, principal: Principal
) -> Referral:
    referral = await uow.referrals.get_for_update(referral_id)
    if referral is None or not sees_referral(principal, referral):
        raise NotFound("no such referral")
    return referral


async def _request_open(uow: MatchingUnitOfWork, referral: Referral) -> None:
    """A 409 once the request is withdrawn or closed: by the exporters service, or here, by an
    accepted offer whose `closed` has not come back yet."""
    # The set's row serialises the changes of one request's deal (two offers accepted at once).
    await uow.match_sets.get_for_update(referral.request_id)
    request = await uow.requests.get(referral.request_id)
    if request is not None and request.status in ("closed", "withdrawn"):
        raise Conflict(f"the request is {request.status}", kind="request-closed")
    for other in await uow.referrals.of_request(referral.request_id):
        if other.id != referral.id and other.offer_decision == "accepted":
            raise Conflict(
                "the exporter accepted another offer for this request", kind="request-closed"
            )


# ---------------------------------------------------------------- provider answers


@dataclass(frozen=True)
class OfferTerms:
    amount: Decimal
    currency: str
    rate_pct: float
    tenor_days: int
    fees_pct: float
    valid_until: datetime
    binding: bool
    conditions: str | None = None


@dataclass(frozen=True)
class Answer:
    status: ResponseStatus
    message: str | None = None
    terms: OfferTerms | None = None
    reason_code: str | None = None


def clean_note(broken: Violations, value: str | None) -> str | None:
    """An advisor's note, cleaned, or None; a bad one is added to `broken`."""
    return _clean(broken, "note", value)


def _clean(broken: Violations, name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return clean_text(value, multiline=True, max_length=NOTE_MAX)
    except ValueError as exc:
        broken.add(name, str(exc))
        return None


def checked_answer(answer: Answer, now: datetime) -> Answer:
    """The answer with its texts cleaned, or a 422 naming every broken rule."""
    broken = Violations(kind="invalid-response")
    message = _clean(broken, "message", answer.message)
    terms = answer.terms
    if answer.status == "info_requested":
        broken.check(answer.message is not None, "message", "the question is required")
    if answer.status == "offer":
        if terms is None:
            broken.add("terms", "an offer needs its terms")
        else:
            terms = _checked_terms(broken, terms, now)
    elif terms is not None:
        broken.add("terms", "only an offer has terms")
    if answer.status == "declined":
        if answer.reason_code not in DECLINE_REASONS:
            broken.add("reason_code", f"must be one of {', '.join(DECLINE_REASONS)}", "enum")
        elif answer.reason_code == "other":
            broken.check(answer.message is not None, "message", "say why, for `other`")
    elif answer.reason_code is not None:
        broken.add("reason_code", "only a decline has a reason code")
    broken.raise_if_any()
    return Answer(answer.status, message, terms, answer.reason_code)


def _checked_terms(broken: Violations, terms: OfferTerms, now: datetime) -> OfferTerms:
    known = broken.check(is_currency(terms.currency), "terms.currency", "not an ISO 4217 currency")
    amount_ok = broken.check(
        terms.amount.is_finite() and Decimal(0) < terms.amount < MAX_AMOUNT,
        "terms.amount",
        f"must be more than 0 and less than {MAX_AMOUNT:,.0f}",
    )
    if known and amount_ok:
        units = minor_units(terms.currency)
        broken.check(
            terms.amount == terms.amount.quantize(Decimal(1).scaleb(-units)),
            "terms.amount",
            f"{terms.currency} has {units} decimals",
        )
    broken.check(0 <= terms.rate_pct <= 100, "terms.rate_pct", "must be from 0 to 100")
    broken.check(0 <= terms.fees_pct <= 100, "terms.fees_pct", "must be from 0 to 100")
    broken.check(
        1 <= terms.tenor_days <= TENOR_MAX_DAYS,
        "terms.tenor_days",
        f"must be from 1 to {TENOR_MAX_DAYS}",
    )
    broken.check(terms.valid_until > now, "terms.valid_until", "must be in the future")
    return replace(terms, conditions=_clean(broken, "terms.conditions", terms.conditions))


def _terms_json(terms: OfferTerms) -> JsonObject:
    return {
        "amount": str(terms.amount),
        "currency": terms.currency,
        "rate_pct": terms.rate_pct,
        "tenor_days": terms.tenor_days,
        "fees_pct": terms.fees_pct,
        "conditions": terms.conditions,
        "valid_until": _iso(terms.valid_until),
        "binding": terms.binding,
    }


def _same_answer(stored: JsonObject | None, answer: Answer) -> bool:
    if stored is None:
        return False
    terms = None if answer.terms is None else _terms_json(answer.terms)
    return (
        stored.get("status") == answer.status
        and stored.get("message") == answer.message
        and stored.get("reason_code") == answer.reason_code
        and _same_terms(stored.get("terms"), terms)
    )


def _same_terms(stored: JsonValue, new: JsonObject | None) -> bool:
    if stored is None or new is None:
        return stored is None and new is None
    if not isinstance(stored, dict):
        return False
    stored_until = datetime.fromisoformat(str(stored.get("valid_until")))
    new_until = datetime.fromisoformat(str(new.get("valid_until")))
    rest = {k: v for k, v in stored.items() if k != "valid_until"}
    return stored_until == new_until and rest == {
        k: v for k, v in new.items() if k != "valid_until"
    }


#: What a referral's status may move to with a provider's answer.
_NEXT: dict[str, frozenset[str]] = {
    "sent": frozenset({"interested", "info_requested", "offer", "declined"}),
    "interested": frozenset({"interested", "info_requested", "offer", "declined"}),
    "info_requested": frozenset({"interested", "info_requested", "offer", "declined"}),
    # A pending offer may be revised, or withdrawn by declining.
    "offer": frozenset({"offer", "declined"}),
    "declined": frozenset(),
}


async def respond(
    uow: MatchingUnitOfWork,
    referral_id: UUID,
    answer: Answer,
    principal: Principal,
    now: datetime,
) -> tuple[Referral, bool]:
    """Record a provider's answer; the referral, and whether anything changed. The same answer
    twice changes nothing the second time (no event, no notification)."""
    referral = await _own_referral(uow, referral_id, principal)
    answer = checked_answer(answer, now)
    if _same_answer(referral.response, answer) and referral.offer_decision is None:
        return referral, False
    if referral.offer_decision == "accepted":
        raise Conflict("the exporter accepted the offer already", kind="offer-decided")
    await _request_open(uow, referral)
    # An offer the exporter declined, or that lapsed, may be followed by a new one, or by a
    # decline that closes the referral.
    lapsed = referral.offer_decision is not None
    allowed = frozenset({"offer", "declined"}) if lapsed else _NEXT[referral.status]
    if answer.status not in allowed:
        raise Conflict(
            f"a referral that is `{referral.status}` cannot be answered `{answer.status}`",
            kind="referral-closed" if referral.status == "declined" else "offer-pending",
        )
    referral.response = {
        "status": answer.status,
        "message": answer.message,
        "terms": None if answer.terms is None else _terms_json(answer.terms),
        "reason_code": answer.reason_code,
        "recorded_at": _iso(now),
    }
    referral.status = answer.status
    referral.offer_valid_until = None if answer.terms is None else answer.terms.valid_until
    if lapsed:
        referral.offer_decision = None
        referral.decided_at = None
    if answer.status == "info_requested":
        referral.reply = None  # a new question waits for a new answer
    referral.version += 1
    uow.referrals.add(referral)
    _step(uow, referral, "response", principal.sub, principal.role, dict(referral.response), now)
    emit_referral(uow, referral, events.ProviderResponseRecorded)
    return referral, True


async def reply(
    uow: MatchingUnitOfWork, referral_id: UUID, message: str, principal: Principal, now: datetime
) -> Referral:
    """The exporter answers the provider's question, once per question."""
    referral = await _own_referral(uow, referral_id, principal)
    broken = Violations(kind="invalid-reply")
    cleaned = _clean(broken, "message", message)
    broken.raise_if_any()
    if referral.status != "info_requested":
        raise Conflict("the provider has asked no question to answer", kind="no-question")
    if referral.reply is not None:
        raise Conflict("the question is answered already", kind="already-answered")
    await _request_open(uow, referral)
    referral.reply = {"message": cleaned, "replied_at": _iso(now)}
    referral.version += 1
    uow.referrals.add(referral)
    _step(uow, referral, "reply", principal.sub, principal.role, dict(referral.reply), now)
    emit_referral(uow, referral, events.ReferralReplied)
    return referral


async def decide_offer(
    uow: MatchingUnitOfWork,
    referral_id: UUID,
    decision: Literal["accepted", "declined"],
    principal: Principal,
    now: datetime,
) -> Referral:
    """The exporter accepts or declines an offer before its `valid_until`."""
    referral = await _own_referral(uow, referral_id, principal)
    if referral.offer_decision == "expired":
        raise Conflict("the offer has expired", kind="offer-expired")
    if referral.status != "offer" or referral.offer_decision is not None:
        raise Conflict(
            "there is no open offer on this referral"
            if referral.offer_decision is None
            else f"the offer is {referral.offer_decision} already",
            kind="no-open-offer",
        )
    if referral.offer_valid_until is None or referral.offer_valid_until <= now:
        raise Conflict("the offer has expired", kind="offer-expired")
    await _request_open(uow, referral)
    _decide(uow, referral, decision, principal.sub, principal.role, now)
    return referral


def _decide(
    uow: MatchingUnitOfWork,
    referral: Referral,
    decision: Literal["accepted", "declined", "expired"],
    actor: str,
    role: str,
    now: datetime,
) -> None:
    referral.offer_decision = decision
    referral.decided_at = now
    referral.version += 1
    uow.referrals.add(referral)
    _step(uow, referral, "offer_decision", actor, role, {"decision": decision}, now)
    emit_referral(uow, referral, events.OfferDecided)


# ---------------------------------------------------------------- the scheduler


async def expire_due(uow: MatchingUnitOfWork, now: datetime, batch: int = 200) -> dict[str, int]:
    """Expire the undecided offers past `valid_until` (an `offer.decided` event each, which
    notifies both parties) and the consents past `expires_at` (the projection reads `expired`,
    and both parties are told). Idempotent: a second run finds nothing left to do."""
    offers = 0
    for referral in await uow.referrals.lapsed_offers(now, batch):
        _decide(uow, referral, "expired", "scheduler", "system", now)
        offers += 1
    consents = 0
    for consent in await uow.consents.lapsed(now, batch):
        consent.status = "expired"
        uow.consents.add(consent)
        exporter = await uow.exporters.get(consent.exporter_id)
        audiences = [notifications.provider_audience(consent.provider_id)]
        if exporter is not None:
            audiences.append(notifications.org_audience(exporter.org))
        expires = "" if consent.expires_at is None else consent.expires_at.isoformat()
        await notifications.notify(
            uow,
            audiences,
            "consent.expired",
            {"exporter_id": str(consent.exporter_id), "provider_id": str(consent.provider_id)},
            cause=f"consent-expired:{consent.id}:{expires}",
            now=now,
        )
        consents += 1
    return {"offers": offers, "consents": consents}


# ---------------------------------------------------------------- reading a referral


IDENTITY_FIELDS = (
    "legal_name",
    "ice",
    "legal_form",
    "region",
    "founded_year",
    "exporting_since",
    "employees",
    "annual_turnover_mad",
    "export_turnover_mad",
    "exports",
    "audited_accounts",
    "collateral_available_mad",
    "export_share_pct",
    "is_mono_market",
    "is_mono_product",
    "years_exporting",
)


async def disclosed(
    uow: MatchingUnitOfWork, referral: Referral, principal: Principal, now: datetime
) -> bool:
    """Whether this principal sees the exporter's identity on this referral: the exporter
    itself, an advisor of the region and an admin always; its provider only while the
    exporter's consent to it holds."""
    if principal.role == "provider":
        return await uow.consents.holding(referral.exporter_id, referral.provider_id, now)
    return True


def identity(exporter: ExporterProjection | None) -> JsonObject | None:
    if exporter is None:
        return None
    snapshot = events.ExporterSnapshot.model_validate_json(exporter.snapshot)
    dumped = snapshot.model_dump(mode="json", include=set(IDENTITY_FIELDS))
    return {"id": str(exporter.id), **dumped}


def shown_fields(identity: JsonObject | None, buyer: JsonObject | None) -> list[str]:
    """The fields of an identity a read disclosed: those with a value."""
    shown = [name for name, value in (identity or {}).items() if value not in (None, [], "")]
    return [*shown, "buyer"] if buyer is not None else shown


def log_disclosure(
    uow: MatchingUnitOfWork,
    referral: Referral,
    principal: Principal,
    now: datetime,
    fields: list[str],
) -> None:
    """Write who saw which fields of an exporter, and when; the exporter's own users are not
    logged, nor a read that disclosed nothing."""
    if principal.role == "exporter" or not fields:
        return
    uow.access_log.add(
        AccessLogEntry(
            exporter_id=referral.exporter_id,
            org=referral.org,
            referral_id=referral.id,
            provider_id=referral.provider_id,
            viewer=principal.sub,
            viewer_role=principal.role,
            fields=fields,
            at=now,
        )
    )


def all_in_cost_pct(terms: JsonObject) -> float | None:
    """An offer's yearly cost, % a year to 2 decimals (half-even, as the engine's): its rate,
    plus its one-off fees spread over its tenor. A bundled guarantee's premium is the
    guarantor's to quote, so it is not in the bank's offer."""
    try:
        rate = Decimal(str(terms.get("rate_pct")))
        fees = Decimal(str(terms.get("fees_pct")))
        tenor = int(str(terms.get("tenor_days")))
    except (ArithmeticError, TypeError, ValueError):
        return None
    cost = rate + fees * 365 / max(tenor, 1)
    return float(cost.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _iso(moment: datetime) -> str:
    """A UTC time as the API writes it, with `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = [
    "DECLINE_REASONS",
    "Answer",
    "OfferTerms",
    "Review",
    "all_in_cost_pct",
    "clean_note",
    "decide_offer",
    "disclosed",
    "expire_due",
    "identity",
    "log_disclosure",
    "open_set",
    "referral_snapshot",
    "reply",
    "respond",
    "review",
    "sees_referral",
    "sees_set",
    "send_referrals",
    "shown_fields",
]
