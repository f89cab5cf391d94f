"""The exporter's pages: its profile and derived flags, its financing requests, the consents
it gives to providers and who saw its identity, and its offers side by side. (A request's
matches are the match set's page, read-only for an exporter; the referrals' timeline and the
answer to a provider's question are the referral's page.)

The console checks no role: the API answers another role's call with its 403 or 404, which is
shown as a page."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from console.adapters.api import Api
from console.entrypoints.context import Context, context, first
from console.entrypoints.writes import Again, flat, submit
from console.service_layer import forms

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]
# An exporter has a handful of requests, consents and offers: one page of each at most.
LISTED = 100
ACCESS_LOG_PAGE = 50
PROVIDERS = 500


@router.get("/profile")
async def profile(ctx: Ctx) -> Response:
    """The exporter's profile with the flags derived from it (export share, mono-market,
    mono-product, years exporting), as the matching reads them."""
    ctx.require_sign_in()
    return ctx.render("profile.html", exporter=await ctx.api.get("/v1/exporters/me"))


@router.get("/requests")
async def my_requests(ctx: Ctx, cursor: Annotated[str | None, Query()] = None) -> Response:
    """The exporter's financing requests, oldest first, with their status."""
    ctx.require_sign_in()
    page = await ctx.api.get("/v1/financing-requests", {"cursor": cursor, "limit": LISTED})
    return ctx.render("requests.html", requests=page["items"], next_cursor=page.get("next_cursor"))


async def provider_names(api: Api) -> dict[str, str]:
    """Each provider's name by id (the consents and offers name providers by id only)."""
    listed, _more = await api.pages("/v1/providers", most=PROVIDERS)
    return {str(p["id"]): str(p["name"]) for p in listed}


async def _consents_page(ctx: Context, status: int = 200, **extra: Any) -> Response:
    api = ctx.api
    exporter = await api.get("/v1/exporters/me")
    (consents, _more), names, log = await asyncio.gather(
        api.pages(f"/v1/exporters/{exporter['id']}/consents", most=LISTED),
        provider_names(api),
        api.get("/v1/referrals/access-log", {"limit": ACCESS_LOG_PAGE}),
    )
    return ctx.render(
        "consents.html",
        status=status,
        exporter=exporter,
        consents=consents,
        names=names,
        log=log["items"],
        log_more=bool(log.get("next_cursor")),
        form_key=str(uuid.uuid4()),
        **extra,
    )


@router.get("/consents")
async def consents(ctx: Ctx, done: str | None = None) -> Response:
    """The consent given to each provider (granted, revoked, expired), the form to grant one,
    and the access log: who saw the exporter's identity through a referral, newest first."""
    ctx.require_sign_in()
    return await _consents_page(ctx, done=done)


def _again(ctx: Context) -> Again:
    return lambda status, problem: _consents_page(ctx, status, problem=problem)


@router.post("/consents")
async def grant_consent(ctx: Ctx) -> Response:
    ctx.require_sign_in()
    fields = await ctx.form()
    api = ctx.api
    exporter = await api.get("/v1/exporters/me")
    write = api.post(
        f"/v1/exporters/{exporter['id']}/consents",
        forms.consent_body(flat(fields)),
        first(fields, "form_key") or None,
    )
    return await submit(ctx, write, "/consents?done=granted", _again(ctx))


@router.post("/consents/{provider_id}/revoke")
async def revoke_consent(ctx: Ctx, provider_id: UUID) -> Response:
    ctx.require_sign_in()
    await ctx.form()
    api = ctx.api
    exporter = await api.get("/v1/exporters/me")
    write = api.delete(f"/v1/exporters/{exporter['id']}/consents/{provider_id}")
    return await submit(ctx, write, "/consents?done=revoked", _again(ctx))


async def _offers_page(
    ctx: Context, request_id: UUID | None, status: int = 200, **extra: Any
) -> Response:
    api = ctx.api
    query = {"request_id": None if request_id is None else str(request_id)}
    (offers, _more), names = await asyncio.gather(
        api.pages("/v1/referrals/offers", query, most=LISTED), provider_names(api)
    )
    return ctx.render(
        "offers.html",
        status=status,
        offers=sorted(offers, key=_cheapest_first),
        names=names,
        request_id=request_id,
        form_key=str(uuid.uuid4()),
        **extra,
    )


def _cheapest_first(line: dict[str, Any]) -> tuple[bool, float]:
    cost = line["offer"].get("all_in_cost_pct")
    return cost is None, cost or 0.0


@router.get("/offers")
async def offers(
    ctx: Ctx,
    request_id: Annotated[UUID | None, Query()] = None,
    done: str | None = None,
) -> Response:
    """The exporter's offers side by side, cheapest all-in cost first, with accept and
    decline on the open ones."""
    ctx.require_sign_in()
    return await _offers_page(ctx, request_id, done=done)


@router.post("/offers/{referral_id}/{decision}")
async def decide_offer(
    ctx: Ctx, referral_id: UUID, decision: Literal["accept", "decline"]
) -> Response:
    ctx.require_sign_in()
    fields = await ctx.form()
    request_id = first(fields, "request_id")
    scope = UUID(request_id) if _is_uuid(request_id) else None
    write = ctx.api.post(
        f"/v1/referrals/{referral_id}/offer/{decision}", {}, first(fields, "form_key") or None
    )
    back = f"/offers?done={decision}" + (f"&request_id={scope}" if scope else "")
    return await submit(
        ctx,
        write,
        back,
        lambda status, problem: _offers_page(ctx, scope, status, problem=problem),
    )


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True
