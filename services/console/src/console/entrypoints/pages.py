"""The console's pages: sign-in, the advisor's queue, a match set and its review, and the
timeline of a request's referrals. Every page is a server-rendered URL that can be bookmarked;
every form carries the session's CSRF token and answers with a redirect (post/redirect/get)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from tasdir.reference.geography import is_region
from tasdir.settings import get_settings

from console.adapters.api import ApiError
from console.entrypoints.context import Context, all_of, context, first
from console.service_layer import dashboard as charts
from console.service_layer import i18n, signin, views

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]
# How many sets the queue's counts look at, at most (it says "at least" beyond).
COUNT_LIMIT = 500
QUEUE_PAGE = 50
# The dashboard reads this many requests at most (it says "at least" beyond), and the timelines
# of this many answered referrals.
DASHBOARD_REQUESTS = 1000
DASHBOARD_TIMELINES = 100
#: Each role's first page (base.html's navigation shows each role its own pages).
HOMES = {"advisor": "/queue", "admin": "/queue", "exporter": "/requests", "provider": "/inbox"}
#: Who reviews a match set; the exporter reads its own, without the review's forms.
REVIEWERS = ("advisor", "admin")


class SignInUnavailable(Exception):
    """Production sign-in (OIDC) is not built yet: a 501 page says so."""


@router.get("/healthz", include_in_schema=False)
@router.get("/readyz", include_in_schema=False)
async def healthz() -> PlainTextResponse:
    """Alive and ready: the console holds no state of its own (a page says when the API is
    not)."""
    return PlainTextResponse("ok")


@router.get("/")
async def home(ctx: Ctx) -> Response:
    if not ctx.session.signed_in:
        return ctx.redirect("/sign-in")
    start = HOMES.get(ctx.session.role or "")
    return ctx.redirect(start) if start else ctx.render("home.html")


@router.get("/sign-in")
async def sign_in_page(ctx: Ctx) -> Response:
    if not ctx.state.settings.development:
        raise SignInUnavailable()
    return ctx.render("sign_in.html", principals=ctx.state.principals())


@router.post("/sign-in")
async def sign_in(ctx: Ctx) -> Response:
    if not ctx.state.settings.development:
        raise SignInUnavailable()
    fields = await ctx.form()
    chosen = signin.find(ctx.state.principals(), first(fields, "principal"))
    if chosen is None:
        _ = i18n.gettext_of(ctx.lang)
        return ctx.render(
            "sign_in.html",
            status=422,
            principals=ctx.state.principals(),
            error=_("Choose one of the accounts listed."),
        )
    token = chosen.token(ctx.state.token_settings or get_settings())
    session = ctx.session.signed_in_as(
        token, role=chosen.role, sub=chosen.sub, label=chosen.label, regions=chosen.regions
    )
    return ctx.redirect("/", session)


@router.post("/sign-out")
async def sign_out(ctx: Ctx) -> Response:
    await ctx.form()
    return ctx.redirect("/sign-in", ctx.session.signed_out())


@router.post("/language")
async def language(ctx: Ctx) -> Response:
    fields = await ctx.form()
    lang = first(fields, "lang")
    back = first(fields, "next", "/")
    # Only a path of this console: never an open redirect.
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    if lang not in i18n.LANGS:
        return ctx.redirect(back)
    return ctx.redirect(back, ctx.session.with_lang(lang))


@router.get("/queue")
async def queue(
    ctx: Ctx,
    region: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    """The review queue of the advisor's regions, oldest first, with the counts per status."""
    ctx.require_sign_in()
    region = region if region and is_region(region) else None
    status = status if status in views.STATUSES else None
    api = ctx.api
    scope = {"region": region}
    counted, capped = await api.pages("/v1/match-sets", scope, most=COUNT_LIMIT)
    page = await api.get(
        "/v1/match-sets",
        {**scope, "status": status, "cursor": cursor, "limit": QUEUE_PAGE},
    )
    return ctx.render(
        "queue.html",
        sets=page["items"],
        next_cursor=page.get("next_cursor"),
        counts=views.queue_counts(counted, capped),
        region=region,
        status_filter=status,
        regions=ctx.session.regions,
        statuses=views.STATUSES,
    )


async def _match_set_page(
    ctx: Context, request_id: UUID, status: int = 200, **extra: Any
) -> Response:
    match_set = await ctx.api.get(f"/v1/match-sets/{request_id}")
    return ctx.render(
        "match_set.html",
        status=status,
        match_set=match_set,
        matches=views.match_rows(match_set, ctx.lang),
        misses=views.miss_rows(match_set, ctx.lang),
        reviewable=match_set["status"] in views.REVIEWABLE and ctx.session.role in REVIEWERS,
        form_key=str(uuid.uuid4()),
        **extra,
    )


@router.get("/match-sets/{request_id}")
async def match_set(ctx: Ctx, request_id: UUID, done: str | None = None) -> Response:
    """A request's match set: its ranked matches, the nearest misses, the audit trail, and the
    review form. (The API moves a proposed set to `in_review` when an advisor opens it.)"""
    ctx.require_sign_in()
    return await _match_set_page(ctx, request_id, done=done)


def review_body(fields: dict[str, list[str]]) -> dict[str, Any]:
    """The API's review body from the form: approve the ticked matches (or all of them), or
    reject them all with a note."""
    decision = first(fields, "decision")
    note = first(fields, "note").strip() or None
    version = first(fields, "version")
    body: dict[str, Any] = {"decision": decision}
    if version.isdigit():
        body["version"] = int(version)
    if decision == "reject":
        body["note"] = note or ""
        return body
    if decision == "approve":
        body["product_ids"] = list(all_of(fields, "product_id"))
    if decision == "approve-all":
        body["decision"] = "approve"
    if note:
        body["note"] = note
    return body


@router.post("/match-sets/{request_id}/review")
async def review(ctx: Ctx, request_id: UUID) -> Response:
    ctx.require_sign_in()
    fields = await ctx.form()
    body = review_body(fields)
    try:
        await ctx.api.post(
            f"/v1/match-sets/{request_id}/review", body, first(fields, "form_key") or None
        )
    except ApiError as exc:
        if exc.status in (409, 422):
            # The set again, with what the API said, at the API's status.
            return await _match_set_page(ctx, request_id, status=exc.status, problem=exc)
        raise
    return ctx.redirect(f"/match-sets/{request_id}?done={body['decision']}")


@router.get("/requests/{request_id}/referrals")
async def referrals(ctx: Ctx, request_id: UUID) -> Response:
    """Each referral of a request, with its timeline: sent, the answers, the offer, the
    decision."""
    ctx.require_sign_in()
    api = ctx.api
    listed, _more = await api.pages("/v1/referrals", {"request_id": str(request_id)}, most=100)
    detailed = [await api.get(f"/v1/referrals/{r['id']}") for r in listed]
    return ctx.render(
        "referrals.html",
        request_id=request_id,
        referrals=[(r, views.timeline(r)) for r in detailed],
    )


@router.get("/dashboard")
async def dashboard(ctx: Ctx, region: Annotated[str | None, Query()] = None) -> Response:
    """A region's funnel (requests -> matched -> referred -> offered -> closed) and the median
    time to a provider's first answer, as server-rendered SVG."""
    ctx.require_sign_in()
    region = region if region and is_region(region) else None
    api = ctx.api
    requests, capped = await api.pages(
        "/v1/financing-requests", {"region": region}, most=DASHBOARD_REQUESTS
    )
    listed, _more = await api.pages("/v1/referrals", most=DASHBOARD_REQUESTS)
    answered = [
        r
        for r in listed
        if r.get("status") != "sent"
        and (region is None or (r.get("exporter") or {}).get("region") == region)
    ][:DASHBOARD_TIMELINES]
    detailed = await asyncio.gather(*(api.get(f"/v1/referrals/{r['id']}") for r in answered))
    median, answers = charts.median_first_answer(detailed)
    return ctx.render(
        "dashboard.html",
        bars=charts.funnel(requests),
        capped=capped,
        median=median,
        answers=answers,
        region=region,
        regions=ctx.session.regions,
    )
