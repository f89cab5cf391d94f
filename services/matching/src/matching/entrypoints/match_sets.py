"""`/v1/match-sets`: the advisors' review queue, each request's match set, and its review.

Who sees what (docs/security.md): an advisor the match sets of its own regions, an
exporter those of its own organisation, an admin all. Anything else answers 404. The first time
an advisor opens a proposed set it moves to `in_review`; the review approves some or all of its
matches (the referrals follow) or rejects them with a note, and the audit trail keeps who did
what, and when.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, cast
from uuid import UUID

from fastapi import Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, Uuid
from sqlalchemy import column as sql_column
from tasdir.auth import Principal
from tasdir.contracts.base import utcnow
from tasdir.domain import Violations
from tasdir.errors import NotFound
from tasdir.json_types import JsonObject, JsonValue
from tasdir.pagination import Page, PageParamsDep, decode_cursor, encode_cursor
from tasdir.reference import Lang, pick_language
from tasdir.reference.codes import RegionCode
from tasdir.routing import service_router

from matching.adapters.orm import AuditEntry, MatchSet
from matching.config import get_matching_settings
from matching.deps import Idempotent, Reader, Reviewer, UoW
from matching.domain import explain
from matching.service_layer import deals
from matching.service_layer.matcher import matcher_for

router = service_router(prefix="/v1/match-sets", tags=["match-sets"])
MatchSetStatus = Literal["proposed", "in_review", "approved", "rejected"]
#: The languages reasons are rendered in.
REASON_LANGS: tuple[Lang, ...] = ("en", "fr")


AcceptLanguage = Annotated[
    str | None,
    Header(
        alias="Accept-Language",
        description="`fr` or `en` (the default): the language of the reasons' `message`.",
    ),
]


def _localised(entry: JsonObject, lang: str) -> JsonObject:
    """A stored match or miss with each reason's `message` in `lang`."""
    reasons = entry.get("reasons")
    if not isinstance(reasons, list):
        return entry
    stored = [r for r in reasons if isinstance(r, dict)]
    return {**entry, "reasons": list[JsonValue](explain.rendered(stored, lang))}


class AuditPublic(BaseModel):
    """One step of a set's audit trail: who opened, approved or rejected it, and when. The
    reviewer's identity is shown to advisors and admins only."""

    id: UUID
    action: Literal["opened", "approved", "rejected"]
    actor: str | None
    actor_role: str
    match_set_version: int
    product_ids: list[UUID]
    note: str | None
    at: datetime

    @classmethod
    def of(cls, entry: AuditEntry, principal: Principal) -> AuditPublic:
        staff = principal.role in ("advisor", "admin")
        return cls(
            id=entry.id,
            action=cast(Literal["opened", "approved", "rejected"], entry.action),
            actor=entry.actor if staff else None,
            actor_role=entry.actor_role,
            match_set_version=entry.match_set_version,
            product_ids=[UUID(p) for p in entry.product_ids],
            note=entry.note,
            at=entry.at,
        )


class MatchSetPublic(BaseModel):
    request_id: UUID
    exporter_id: UUID
    region: str
    status: str
    version: int
    computed_at: datetime
    catalogue_seq: int
    fx_as_of: date
    language: str
    matches: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    excluded_total: int
    audit: list[AuditPublic] | None = Field(
        default=None, description="The audit trail, oldest first (on a single set's read)."
    )

    @classmethod
    def of(
        cls,
        match_set: MatchSet,
        lang: str = "en",
        audit: list[AuditPublic] | None = None,
    ) -> MatchSetPublic:
        nearest = get_matching_settings().nearest_misses
        return cls(
            request_id=match_set.request_id,
            exporter_id=match_set.exporter_id,
            region=match_set.region,
            status=match_set.status,
            version=match_set.version,
            computed_at=match_set.computed_at,
            catalogue_seq=match_set.catalogue_seq,
            fx_as_of=match_set.fx_as_of,
            language=lang,
            matches=[_localised(m, lang) for m in match_set.matches],
            excluded=[_localised(m, lang) for m in match_set.excluded[:nearest]],
            excluded_total=match_set.excluded_total,
            audit=audit,
        )


class ExcludedPage(BaseModel):
    """A page of a request's excluded products, nearest first, evaluated against the catalogue
    as of `catalogue_seq`."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
    excluded_total: int
    catalogue_seq: int
    language: str


def _language(response: Response, accept_language: str | None) -> str:
    lang = pick_language(accept_language, REASON_LANGS)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language"
    return lang


@router.get("", response_model=Page[MatchSetPublic])
async def review_queue(
    principal: Reviewer,
    uow: UoW,
    params: PageParamsDep,
    response: Response,
    region: Annotated[RegionCode | None, Query()] = None,
    status: MatchSetStatus | None = None,
    accept_language: AcceptLanguage = None,
) -> Page[MatchSetPublic]:
    """The queue, oldest first; an advisor sees only its own regions."""
    regions: list[str] | None = None
    if principal.role == "advisor":
        regions = [r for r in principal.regions if region is None or r == region]
    elif region is not None:
        regions = [region]
    page = await uow.match_sets.queue(params, regions=regions, status=status)
    lang = _language(response, accept_language)
    return Page(
        items=[MatchSetPublic.of(m, lang) for m in page.items], next_cursor=page.next_cursor
    )


async def _visible_set(request_id: UUID, principal: Principal, uow: UoW) -> MatchSet:
    found = await uow.match_sets.get(request_id)
    if found is None or not deals.sees_set(principal, found):
        raise NotFound("no match set for this request")
    return found


@router.get("/{request_id}", response_model=MatchSetPublic)
async def match_set(
    request_id: UUID,
    principal: Reader,
    uow: UoW,
    response: Response,
    accept_language: AcceptLanguage = None,
) -> MatchSetPublic:
    """A request's match set: the matches ranked, with their bundles, all-in cost, score and
    reasons, the nearest misses with theirs, in the language of `Accept-Language`, and the
    audit trail. The first time an advisor of its region opens a proposed set, it moves to
    `in_review`."""
    found = await _visible_set(request_id, principal, uow)
    # Only a proposed set can be opened: any other read takes no row lock.
    if found.status == "proposed" and await deals.open_set(uow, request_id, principal, utcnow()):
        await uow.commit()
        found = await _visible_set(request_id, principal, uow)
    return await _public(uow, found, principal, _language(response, accept_language))


async def _public(uow: UoW, found: MatchSet, principal: Principal, lang: str) -> MatchSetPublic:
    trail = [AuditPublic.of(e, principal) for e in await uow.audit.of_request(found.request_id)]
    return MatchSetPublic.of(found, lang, trail)


_VERSION = Field(
    default=None,
    ge=1,
    description="The set's version the advisor reviewed: 409 if it has moved since.",
)


class ApproveBody(BaseModel):
    """Approve some matches (`product_ids`), or all those not yet approved (no
    `product_ids`). A referral goes to each product's provider."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve"]
    product_ids: list[UUID] | None = Field(
        default=None, min_length=1, max_length=100, json_schema_extra={"uniqueItems": True}
    )
    note: str | None = Field(default=None, min_length=1, max_length=2000)
    version: int | None = _VERSION


class RejectBody(BaseModel):
    """Reject every match, saying why in `note`."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["reject"]
    note: str = Field(min_length=1, max_length=2000)
    version: int | None = _VERSION


ReviewBody = Annotated[ApproveBody | RejectBody, Field(discriminator="decision")]


@router.post(
    "/{request_id}/review",
    response_model=MatchSetPublic,
    dependencies=[Idempotent],
    responses={
        404: {"description": "No such match set, or not in the advisor's regions."},
        409: {
            "description": "Reviewed already (`already-reviewed`, `already-referred`, "
            "`nothing-to-approve`), a request that is closed (`request-closed`), or a set that "
            "moved since `version` (`stale-match-set`)."
        },
        422: {"description": "A product that is not a match of the set, or a bad note."},
    },
)
async def review_match_set(
    request_id: UUID,
    body: ReviewBody,
    principal: Reviewer,
    uow: UoW,
    response: Response,
    accept_language: AcceptLanguage = None,
) -> MatchSetPublic:
    """Approve some or all matches (a referral goes to each product's provider), or reject
    them with a note. A set approved already takes a further approval of its new fits."""
    broken = Violations(kind="invalid-review")
    note = deals.clean_note(broken, body.note)
    asked = body.product_ids if isinstance(body, ApproveBody) else None
    if asked is not None and len(set(asked)) != len(asked):
        broken.add("product_ids", "names a product twice")
    broken.raise_if_any()
    command = deals.Review(
        request_id=request_id,
        decision=body.decision,
        product_ids=None if asked is None else tuple(asked),
        note=note,
        version=body.version,
    )
    match_set, _entry = await deals.review(uow, command, principal, utcnow())
    lang = _language(response, accept_language)
    public = await _public(uow, match_set, principal, lang)
    await uow.commit(public)
    return public


@router.get("/{request_id}/excluded", response_model=ExcludedPage)
async def excluded(
    request_id: UUID,
    principal: Reader,
    uow: UoW,
    params: PageParamsDep,
    response: Response,
    accept_language: AcceptLanguage = None,
) -> ExcludedPage:
    """Every excluded product of an open request, nearest first (the fewest rules failed or
    unanswered, then the product id), evaluated against the current catalogue; a closed or
    withdrawn request pages its stored nearest misses."""
    found = await _visible_set(request_id, principal, uow)
    lang = _language(response, accept_language)
    after = _after(params.cursor)
    matcher = matcher_for(uow, reader=True)
    async with matcher.lock:
        await matcher.sync(uow)
        evaluated = matcher.evaluate(request_id, utcnow().date())
        if evaluated is None:
            return _stored_page(found, after, params.limit, lang)
        request, profile, evaluation = evaluated
        page = evaluation.misses_after(after, params.limit + 1)
        items = [matcher.miss_entry(o, request, profile) for o in page[: params.limit]]
        last = page[params.limit - 1] if len(page) > params.limit else None
        return ExcludedPage(
            items=[_localised(item, lang) for item in items],
            next_cursor=None if last is None else _cursor(last.misses, last.product_id),
            excluded_total=evaluation.excluded_total,
            catalogue_seq=matcher.seq,
            language=lang,
        )


def _cursor(misses: int, product_id: UUID) -> str:
    return encode_cursor([misses, str(product_id)])


#: The keyset of the excluded pages: the count of rules failed or unanswered, the product id.
_MISS_KEY = [sql_column("misses", Integer()), sql_column("product_id", Uuid())]


def _after(cursor: str | None) -> tuple[int, UUID] | None:
    if cursor is None:
        return None
    misses, product_id = decode_cursor(cursor, _MISS_KEY)
    return cast(int, misses), cast(UUID, product_id)


def _stored_page(
    found: MatchSet, after: tuple[int, UUID] | None, limit: int, lang: str
) -> ExcludedPage:
    """The stored nearest misses, paged the same way, for a request no longer matched."""

    def key(entry: JsonObject) -> tuple[int, UUID]:
        count = sum(r.get("status") in ("failed", "missing") for r in _reasons(entry))
        return count, UUID(str(entry.get("product_id")))

    ranked = sorted(found.excluded, key=key)
    rest = [e for e in ranked if after is None or key(e) > after]
    page = rest[: limit + 1]
    last = key(page[limit - 1]) if len(page) > limit else None
    return ExcludedPage(
        items=[_localised(e, lang) for e in page[:limit]],
        next_cursor=None if last is None else _cursor(*last),
        excluded_total=found.excluded_total,
        catalogue_seq=found.catalogue_seq,
        language=lang,
    )


def _reasons(entry: JsonObject) -> list[JsonObject]:
    reasons = entry.get("reasons")
    return [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []
