"""`/v1/match-sets`: the advisors' review queue and each request's match set.

Who sees what (docs/security.md): an advisor the match sets of its own regions, an
exporter those of its own organisation, an admin all. Anything else answers 404.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, cast
from uuid import UUID

from fastapi import Header, Query, Response
from pydantic import BaseModel
from sqlalchemy import Integer, Uuid
from sqlalchemy import column as sql_column
from tasdir.auth import Principal
from tasdir.contracts.base import utcnow
from tasdir.errors import NotFound
from tasdir.json_types import JsonObject, JsonValue
from tasdir.pagination import Page, PageParamsDep, decode_cursor, encode_cursor
from tasdir.reference import Lang, pick_language
from tasdir.reference.codes import RegionCode
from tasdir.routing import service_router

from matching.adapters.orm import MatchSet
from matching.config import get_matching_settings
from matching.deps import Reader, Reviewer, UoW
from matching.domain import explain
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

    @classmethod
    def of(cls, match_set: MatchSet, lang: str = "en") -> MatchSetPublic:
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


def visible(principal: Principal, match_set: MatchSet) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "advisor":
        return match_set.region in principal.regions
    return principal.role == "exporter" and match_set.org == principal.org


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
    if found is None or not visible(principal, found):
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
    reasons, and the nearest misses with theirs, in the language of `Accept-Language`."""
    found = await _visible_set(request_id, principal, uow)
    return MatchSetPublic.of(found, _language(response, accept_language))


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
