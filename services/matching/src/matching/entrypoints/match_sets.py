"""`/v1/match-sets`: the advisors' review queue and each request's match set.

Who sees what (docs/security.md): an advisor the match sets of its own regions, an
exporter those of its own organisation, an admin all. Anything else answers 404.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel
from tasdir.auth import Principal
from tasdir.errors import NotFound
from tasdir.pagination import Page, PageParamsDep
from tasdir.reference.codes import RegionCode
from tasdir.routing import service_router

from matching.adapters.orm import MatchSet
from matching.deps import Reader, Reviewer, UoW

router = service_router(prefix="/v1/match-sets", tags=["match-sets"])
MatchSetStatus = Literal["proposed", "in_review", "approved", "rejected"]
NEAREST_MISSES = 50


class MatchSetPublic(BaseModel):
    request_id: UUID
    exporter_id: UUID
    region: str
    status: str
    version: int
    computed_at: datetime
    catalogue_seq: int
    fx_as_of: date
    matches: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    excluded_total: int

    @classmethod
    def of(cls, match_set: MatchSet) -> MatchSetPublic:
        fields = match_set.model_dump()
        fields["excluded"] = fields["excluded"][:NEAREST_MISSES]
        return cls.model_validate(fields)


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
    region: Annotated[RegionCode | None, Query()] = None,
    status: MatchSetStatus | None = None,
) -> Page[MatchSetPublic]:
    """The queue, oldest first; an advisor sees only its own regions."""
    regions: list[str] | None = None
    if principal.role == "advisor":
        regions = [r for r in principal.regions if region is None or r == region]
    elif region is not None:
        regions = [region]
    page = await uow.match_sets.queue(params, regions=regions, status=status)
    return Page(items=[MatchSetPublic.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.get("/{request_id}", response_model=MatchSetPublic)
async def match_set(request_id: UUID, principal: Reader, uow: UoW) -> MatchSetPublic:
    found = await uow.match_sets.get(request_id)
    if found is None or not visible(principal, found):
        raise NotFound("no match set for this request")
    return MatchSetPublic.of(found)
