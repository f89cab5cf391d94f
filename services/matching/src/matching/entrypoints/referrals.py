"""`/v1/referrals`: the approved matches sent to their providers, their answers and offers.

Who sees what (docs/security.md): a provider its own referrals, an exporter those of its
organisation, an advisor those of its regions, an admin all; anything else is a 404. A provider
sees the exporter's identity only while the exporter's consent to it holds: before, and after a
revocation or an expiry, the `exporter` object holds its region, size band and sectors only.
Every disclosure of an identity is written to the access log, which the exporter reads at
`/v1/referrals/access-log`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from tasdir.auth import Principal
from tasdir.contracts import events
from tasdir.contracts.base import utcnow
from tasdir.errors import NotFound
from tasdir.json_types import JsonObject
from tasdir.models import DecimalInput
from tasdir.openapi import Responses
from tasdir.pagination import Page, PageParamsDep
from tasdir.routing import service_router

from matching.adapters.orm import AccessLogEntry, Referral, ReferralStep
from matching.deps import (
    ExporterOrAdmin,
    ExporterPrincipal,
    Idempotent,
    Party,
    ProviderPrincipal,
    UoW,
)
from matching.service_layer import deals

router = service_router(prefix="/v1/referrals", tags=["referrals"])

ReferralStatus = Literal["sent", "interested", "info_requested", "offer", "declined"]
NOT_YOURS: Responses = {404: {"description": "No such referral, or not yours to see."}}


class ExporterView(BaseModel):
    """The exporter as this reader may see it: anonymised (`identity` and `buyer` null) for a
    provider without the exporter's consent."""

    anonymised: bool
    region: str | None
    size_band: str = Field(description="`micro`, `small`, `medium`, `large` or `unknown`.")
    hs_chapters: list[str]
    identity: dict[str, Any] | None = None
    buyer: dict[str, Any] | None = None


class OfferPublic(BaseModel):
    amount: Decimal
    currency: str
    rate_pct: float
    fees_pct: float
    tenor_days: int
    all_in_cost_pct: float | None = Field(
        description="The rate plus the fees spread over the tenor, % a year."
    )
    conditions: str | None
    valid_until: datetime
    binding: bool
    decision: Literal["accepted", "declined", "expired"] | None
    decided_at: datetime | None
    expired: bool

    @classmethod
    def of(cls, referral: Referral, now: datetime) -> OfferPublic | None:
        response = referral.response or {}
        terms = response.get("terms")
        if referral.offer_valid_until is None or not isinstance(terms, dict):
            return None
        return cls(
            amount=Decimal(str(terms["amount"])),
            currency=str(terms["currency"]),
            rate_pct=float(str(terms["rate_pct"])),
            fees_pct=float(str(terms["fees_pct"])),
            tenor_days=int(str(terms["tenor_days"])),
            all_in_cost_pct=deals.all_in_cost_pct(terms),
            conditions=None if terms.get("conditions") is None else str(terms["conditions"]),
            valid_until=referral.offer_valid_until,
            binding=bool(terms.get("binding")),
            decision=referral.offer_decision,
            decided_at=referral.decided_at,
            expired=referral.offer_decision == "expired"
            or (referral.offer_decision is None and referral.offer_valid_until <= now),
        )


class StepPublic(BaseModel):
    kind: Literal["sent", "response", "reply", "offer_decision"]
    actor_role: str
    detail: dict[str, Any]
    at: datetime

    @classmethod
    def of(cls, step: ReferralStep) -> StepPublic:
        return cls(
            kind=step.kind,
            actor_role=step.actor_role,
            detail=step.detail,
            at=step.at,
        )


class ReferralPublic(BaseModel):
    id: UUID
    request_id: UUID
    provider_id: UUID
    product_id: UUID
    product_version: int
    product_name: dict[str, Any]
    match: dict[str, Any] = Field(description="The match as approved: tier, score, cost.")
    bundle: list[dict[str, Any]] = Field(
        description="The guarantee or insurance the product is bundled with, named for the bank."
    )
    status: ReferralStatus
    sent_at: datetime
    request: dict[str, Any] = Field(description="What the exporter asks for.")
    exporter: ExporterView
    response: dict[str, Any] | None
    reply: dict[str, Any] | None = Field(description="The exporter's answer to the question.")
    offer: OfferPublic | None
    version: int
    timeline: list[StepPublic] | None = Field(
        default=None, description="Every step, oldest first (on a single referral's read)."
    )


async def _public(
    uow: UoW,
    referral: Referral,
    principal: Principal,
    now: datetime,
    *,
    timeline: bool = False,
) -> ReferralPublic:
    profile = referral.profile
    chapters = profile.get("hs_chapters")
    view = ExporterView(
        anonymised=True,
        region=None if profile.get("region") is None else str(profile.get("region")),
        size_band=str(profile.get("size_band") or "unknown"),
        hs_chapters=[str(c) for c in chapters] if isinstance(chapters, list) else [],
    )
    if await deals.disclosed(uow, referral, principal, now):
        exporter = await uow.exporters.get(referral.exporter_id)
        view.identity = deals.identity(exporter)
        view.buyer = await _buyer(uow, referral)
        view.anonymised = False
        shown = deals.shown_fields(view.identity, view.buyer)
        deals.log_disclosure(uow, referral, principal, now, shown)
    steps = await uow.referrals.steps(referral.id) if timeline else None
    return ReferralPublic(
        id=referral.id,
        request_id=referral.request_id,
        provider_id=referral.provider_id,
        product_id=referral.product_id,
        product_version=referral.product_version,
        product_name=referral.product_name,
        match=referral.match,
        bundle=referral.bundle,
        status=referral.status,
        sent_at=referral.sent_at,
        request=referral.request,
        exporter=view,
        response=referral.response,
        reply=referral.reply,
        offer=OfferPublic.of(referral, now),
        version=referral.version,
        timeline=None if steps is None else [StepPublic.of(s) for s in steps],
    )


async def _buyer(uow: UoW, referral: Referral) -> JsonObject | None:
    row = await uow.requests.get(referral.request_id)
    if row is None:
        return None
    buyer = events.FinancingRequestSnapshot.model_validate_json(row.snapshot).buyer
    return None if buyer is None else {"name": buyer.name, "country": buyer.country}


def _scope(principal: Principal) -> dict[str, Any]:
    """The filter of what a principal may list."""
    if principal.role == "provider":
        return {"provider_id": principal.provider_id}
    if principal.role == "exporter":
        return {"org": principal.org}
    if principal.role == "advisor":
        return {"regions": list(principal.regions)}
    return {}


@router.get("", response_model=Page[ReferralPublic])
async def list_referrals(
    principal: Party,
    uow: UoW,
    params: PageParamsDep,
    status: ReferralStatus | None = None,
    request_id: UUID | None = None,
) -> Page[ReferralPublic]:
    """The referrals this principal may see, oldest first: a provider's own, an exporter's,
    an advisor's regions', or all for an admin."""
    now = utcnow()
    page = await uow.referrals.page(
        params, status=status, request_id=request_id, **_scope(principal)
    )
    result: Page[ReferralPublic] = Page(
        items=[await _public(uow, r, principal, now) for r in page.items],
        next_cursor=page.next_cursor,
    )
    await uow.commit()  # the access log
    return result


class OfferLine(BaseModel):
    """One offer, to set side by side with the others."""

    referral_id: UUID
    request_id: UUID
    provider_id: UUID
    product_id: UUID
    product_name: dict[str, Any]
    offer: OfferPublic


@router.get("/offers", response_model=Page[OfferLine])
async def list_offers(
    principal: ExporterOrAdmin,
    uow: UoW,
    params: PageParamsDep,
    request_id: UUID | None = None,
) -> Page[OfferLine]:
    """An exporter's offers (of one request, with `request_id`), oldest first, each with its
    all-in cost, amount, tenor and validity; decided and lapsed ones say so."""
    now = utcnow()
    page = await uow.referrals.page(
        params, request_id=request_id, offers_only=True, **_scope(principal)
    )
    items = []
    for referral in page.items:
        offer = OfferPublic.of(referral, now)
        if offer is not None:
            items.append(
                OfferLine(
                    referral_id=referral.id,
                    request_id=referral.request_id,
                    provider_id=referral.provider_id,
                    product_id=referral.product_id,
                    product_name=referral.product_name,
                    offer=offer,
                )
            )
    return Page(items=items, next_cursor=page.next_cursor)


class AccessLogPublic(BaseModel):
    id: int
    exporter_id: UUID
    referral_id: UUID
    provider_id: UUID | None
    viewer: str
    viewer_role: str
    fields: list[str]
    at: datetime

    @classmethod
    def of(cls, entry: AccessLogEntry) -> AccessLogPublic:
        assert entry.id is not None
        return cls(
            id=entry.id,
            exporter_id=entry.exporter_id,
            referral_id=entry.referral_id,
            provider_id=entry.provider_id,
            viewer=entry.viewer,
            viewer_role=entry.viewer_role,
            fields=entry.fields,
            at=entry.at,
        )


@router.get("/access-log", response_model=Page[AccessLogPublic])
async def access_log(
    principal: ExporterOrAdmin,
    uow: UoW,
    params: PageParamsDep,
    exporter_id: Annotated[UUID | None, Query()] = None,
) -> Page[AccessLogPublic]:
    """Who saw the exporter's identity through a referral, and when, newest first: an
    exporter reads its own organisation's, an admin anyone's."""
    org = principal.org if principal.role == "exporter" else None
    page = await uow.access_log.page(params, org=org, exporter_id=exporter_id)
    return Page(items=[AccessLogPublic.of(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/{referral_id}", response_model=ReferralPublic, responses=NOT_YOURS)
async def get_referral(referral_id: UUID, principal: Party, uow: UoW) -> ReferralPublic:
    """One referral with its timeline."""
    referral = await uow.referrals.get(referral_id)
    if referral is None or not deals.sees_referral(principal, referral):
        raise NotFound("no such referral")
    public = await _public(uow, referral, principal, utcnow(), timeline=True)
    await uow.commit()  # the access log
    return public


class TermsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[
        Decimal,
        DecimalInput(places=4, description="In `currency`, above 0, with its decimals at most."),
    ]
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="An ISO 4217 code.")
    rate_pct: float = Field(ge=0, le=100)
    tenor_days: int = Field(ge=1, le=deals.TENOR_MAX_DAYS)
    fees_pct: float = Field(ge=0, le=100)
    conditions: str | None = Field(default=None, min_length=1, max_length=deals.NOTE_MAX)
    valid_until: AwareDatetime = Field(
        description="In the future, with its time zone (`Z` for UTC)."
    )
    binding: bool


_MESSAGE = Field(default=None, min_length=1, max_length=deals.NOTE_MAX)


class InterestedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["interested"]
    message: str | None = _MESSAGE


class InfoRequestedBody(BaseModel):
    """A question, which the exporter answers with `POST .../reply`."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["info_requested"]
    message: str = Field(min_length=1, max_length=deals.NOTE_MAX)


class OfferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["offer"]
    message: str | None = _MESSAGE
    terms: TermsBody


DeclineReason = Literal[
    "outside_risk_appetite",
    "insufficient_collateral",
    "incomplete_file",
    "amount_out_of_range",
    "tenor_out_of_range",
    "sector_excluded",
    "destination_excluded",
    "credit_history",
    "capacity",
    "other",
]


class DeclinedBody(BaseModel):
    """A refusal with its reason (docs/lifecycles.md); `other` says why in `message`."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["declined"]
    reason_code: DeclineReason
    message: str | None = _MESSAGE


ResponseBody = Annotated[
    InterestedBody | InfoRequestedBody | OfferBody | DeclinedBody,
    Field(discriminator="status"),
]


async def _answer(uow: UoW, referral: Referral, principal: Principal) -> ReferralPublic:
    public = await _public(uow, referral, principal, utcnow(), timeline=True)
    await uow.commit(public)
    return public


@router.post(
    "/{referral_id}/response",
    response_model=ReferralPublic,
    dependencies=[Idempotent],
    responses={
        **NOT_YOURS,
        409: {
            "description": "The referral is declined (`referral-closed`), its offer is pending "
            "(`offer-pending`) or decided (`offer-decided`), or the request is closed."
        },
        422: {"description": "A missing question, terms or reason code, or bad terms."},
    },
)
async def respond(
    referral_id: UUID, body: ResponseBody, principal: ProviderPrincipal, uow: UoW
) -> ReferralPublic:
    """The provider answers: `interested`, `info_requested`, `offer` or `declined`. The same
    answer twice records it once."""
    terms = None
    if isinstance(body, OfferBody):
        terms = deals.OfferTerms(**dict(body.terms))
    reason = body.reason_code if isinstance(body, DeclinedBody) else None
    answer = deals.Answer(body.status, body.message, terms, reason)
    referral, _changed = await deals.respond(uow, referral_id, answer, principal, utcnow())
    return await _answer(uow, referral, principal)


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=2000)


@router.post(
    "/{referral_id}/reply",
    response_model=ReferralPublic,
    dependencies=[Idempotent],
    responses={
        **NOT_YOURS,
        409: {"description": "No question to answer, or answered already."},
    },
)
async def reply(
    referral_id: UUID, body: ReplyBody, principal: ExporterPrincipal, uow: UoW
) -> ReferralPublic:
    """The exporter answers the provider's question (`info_requested`) with a note."""
    referral = await deals.reply(uow, referral_id, body.message, principal, utcnow())
    return await _answer(uow, referral, principal)


_DECIDED: Responses = {
    409: {
        "description": "No open offer (`no-open-offer`), an offer past its `valid_until` "
        "(`offer-expired`), or a request closed by another offer (`request-closed`)."
    }
}


@router.post(
    "/{referral_id}/offer/accept",
    response_model=ReferralPublic,
    dependencies=[Idempotent],
    responses={**NOT_YOURS, **_DECIDED},
)
async def accept_offer(referral_id: UUID, principal: ExporterPrincipal, uow: UoW) -> ReferralPublic:
    """Accept the offer before its `valid_until`: the request becomes `closed`."""
    referral = await deals.decide_offer(uow, referral_id, "accepted", principal, utcnow())
    return await _answer(uow, referral, principal)


@router.post(
    "/{referral_id}/offer/decline",
    response_model=ReferralPublic,
    dependencies=[Idempotent],
    responses={**NOT_YOURS, **_DECIDED},
)
async def decline_offer(
    referral_id: UUID, principal: ExporterPrincipal, uow: UoW
) -> ReferralPublic:
    """Decline the offer."""
    referral = await deals.decide_offer(uow, referral_id, "declined", principal, utcnow())
    return await _answer(uow, referral, principal)
