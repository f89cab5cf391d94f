"""The API's bodies from the exporter's and the bank's forms: what a form holds is strings;
the API wants numbers, booleans, aware date-times, and nothing it did not ask for. What the
API refuses (a 422) is shown to the user as the API said it, so the shaping here checks
nothing the API checks."""

from __future__ import annotations

from datetime import date
from typing import Any

from console.service_layer.labels import N_

#: The provider's answers (`POST /v1/referrals/{id}/response`).
ANSWERS: tuple[str, ...] = ("interested", "info_requested", "offer", "declined")
#: The reasons of a refusal, as the API lists them (docs/lifecycles.md).
DECLINE_REASONS: tuple[str, ...] = (
    N_("outside_risk_appetite"),
    N_("insufficient_collateral"),
    N_("incomplete_file"),
    N_("amount_out_of_range"),
    N_("tenor_out_of_range"),
    N_("sector_excluded"),
    N_("destination_excluded"),
    N_("credit_history"),
    N_("capacity"),
    N_("other"),
)
#: What a page says after a write the API took (its `?done=`).
DONE: dict[str, str] = {
    "granted": N_("The consent is granted: the bank sees your identity on its referrals."),
    "revoked": N_("The consent is revoked: the bank no longer sees your identity."),
    "accept": N_("The offer is accepted: the request is closed."),
    "decline": N_("The offer is declined."),
    "reply": N_("Your answer is sent to the bank."),
    "interested": N_("Your answer is sent to the exporter."),
    "info_requested": N_("Your question is sent to the exporter."),
    "offer": N_("Your offer is sent to the exporter."),
    "declined": N_("The referral is declined."),
}
TERMS: tuple[str, ...] = ("amount", "currency", "rate_pct", "fees_pct", "tenor_days")


def end_of_day(value: str) -> str | None:
    """A form's date (`2026-12-31`) as the API's aware date-time: the end of that day, UTC.
    Anything else goes as it came, for the API to say what is wrong with it."""
    value = value.strip()
    if not value:
        return None
    try:
        return f"{date.fromisoformat(value).isoformat()}T23:59:59Z"
    except ValueError:
        return value


def _number(value: str) -> Any:
    """A number as the API takes it; a text that is none goes as it came (the API says why)."""
    text = value.strip().replace(",", ".")
    try:
        return int(text) if text.isdigit() else float(text)
    except ValueError:
        return value


def terms_body(fields: dict[str, str]) -> dict[str, Any]:
    """An offer's terms: the amount as a decimal string (money is never a float)."""
    terms: dict[str, Any] = {name: fields.get(name, "").strip() for name in TERMS}
    terms["currency"] = terms["currency"].upper()
    for name in ("rate_pct", "fees_pct", "tenor_days"):
        terms[name] = _number(terms[name])
    terms["valid_until"] = end_of_day(fields.get("valid_until", ""))
    terms["binding"] = fields.get("binding") == "on"
    conditions = fields.get("conditions", "").strip()
    if conditions:
        terms["conditions"] = conditions
    return terms


def answer_body(fields: dict[str, str]) -> dict[str, Any]:
    """A provider's answer: its status, its message when one was written, and the terms of an
    offer or the reason code of a refusal."""
    status = fields.get("status", "")
    body: dict[str, Any] = {"status": status}
    message = fields.get("message", "").strip()
    if message or status == "info_requested":
        body["message"] = message
    if status == "offer":
        body["terms"] = terms_body(fields)
    if status == "declined":
        body["reason_code"] = fields.get("reason_code", "")
    return body


def consent_body(fields: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"provider_id": fields.get("provider_id", "")}
    expires = end_of_day(fields.get("expires_on", ""))
    if expires:
        body["expires_at"] = expires
    return body
