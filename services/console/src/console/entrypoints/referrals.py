"""The bank's pages: its referral inbox and a referral with its timeline and the structured
answers; the same referral page gives the exporter the answer to a provider's question.

What a provider sees of the exporter is what the API sends: before the exporter's consent (and
after its revocation or expiry) its region, size band and sectors only."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from console.entrypoints.context import Context, context, first
from console.entrypoints.writes import Again, flat, submit
from console.service_layer import forms, views

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]
INBOX_PAGE = 50
REFERRAL_STATUSES: tuple[str, ...] = ("sent", "interested", "info_requested", "offer", "declined")


@router.get("/inbox")
async def inbox(
    ctx: Ctx,
    status: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    """The provider's referrals, oldest first, anonymised until the exporter consents."""
    ctx.require_sign_in()
    status = status if status in REFERRAL_STATUSES else None
    page = await ctx.api.get(
        "/v1/referrals", {"status": status, "cursor": cursor, "limit": INBOX_PAGE}
    )
    return ctx.render(
        "inbox.html",
        referrals=page["items"],
        next_cursor=page.get("next_cursor"),
        status_filter=status,
        statuses=REFERRAL_STATUSES,
    )


async def _referral_page(
    ctx: Context, referral_id: UUID, status: int = 200, **extra: Any
) -> Response:
    referral = await ctx.api.get(f"/v1/referrals/{referral_id}")
    return ctx.render(
        "referral.html",
        status=status,
        referral=referral,
        steps=views.timeline(referral),
        answers=forms.ANSWERS,
        reasons=forms.DECLINE_REASONS,
        form_key=f"{referral_id}-{referral.get('version')}",
        **extra,
    )


@router.get("/referrals/{referral_id}")
async def referral(ctx: Ctx, referral_id: UUID, done: str | None = None) -> Response:
    """A referral: the request, the exporter as the API shows it to this reader, the match as
    approved, the timeline, the offer; the provider's answers, or the exporter's reply."""
    ctx.require_sign_in()
    return await _referral_page(ctx, referral_id, done=done)


def _again(ctx: Context, referral_id: UUID) -> Again:
    return lambda status, problem: _referral_page(ctx, referral_id, status, problem=problem)


@router.post("/referrals/{referral_id}/response")
async def respond(ctx: Ctx, referral_id: UUID) -> Response:
    """The provider's structured answer: interested, a question, an offer, or a refusal."""
    ctx.require_sign_in()
    fields = await ctx.form()
    body = forms.answer_body(flat(fields))
    write = ctx.api.post(
        f"/v1/referrals/{referral_id}/response", body, first(fields, "form_key") or None
    )
    back = f"/referrals/{referral_id}?done={body['status']}"
    return await submit(ctx, write, back, _again(ctx, referral_id))


@router.post("/referrals/{referral_id}/reply")
async def reply(ctx: Ctx, referral_id: UUID) -> Response:
    """The exporter's answer to the provider's question."""
    ctx.require_sign_in()
    fields = await ctx.form()
    write = ctx.api.post(
        f"/v1/referrals/{referral_id}/reply",
        {"message": first(fields, "message").strip()},
        first(fields, "form_key") or None,
    )
    back = f"/referrals/{referral_id}?done=reply"
    return await submit(ctx, write, back, _again(ctx, referral_id))
