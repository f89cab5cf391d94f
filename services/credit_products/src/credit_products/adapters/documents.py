"""A product version's terms as stored (plain JSON data) and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from credit_products.domain.product import (
    Eligibility,
    Localized,
    Pricing,
    ProductTerms,
    terms_document,
)

__all__ = ["terms_document", "terms_from_document"]


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _codes(value: object) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(code) for code in value)  # type: ignore[attr-defined]


def terms_from_document(doc: Mapping[str, Any]) -> ProductTerms:
    rules: Mapping[str, Any] = doc.get("eligibility") or {}
    pricing: Mapping[str, Any] = doc.get("pricing") or {}
    return ProductTerms(
        name=Localized(**doc["name"]),
        description=Localized(**doc["description"]),
        instrument=doc["instrument"],
        currencies=tuple(doc["currencies"]),
        amount_currency=doc["amount_currency"],
        amount_min=_decimal(doc.get("amount_min")),
        amount_max=_decimal(doc.get("amount_max")),
        tenor_min_days=doc.get("tenor_min_days"),
        tenor_max_days=doc.get("tenor_max_days"),
        eligibility=Eligibility(
            regions=_codes(rules.get("regions")),
            hs_chapters_include=_codes(rules.get("hs_chapters_include")),
            hs_chapters_exclude=_codes(rules.get("hs_chapters_exclude")),
            destinations_include=_codes(rules.get("destinations_include")),
            destinations_exclude=_codes(rules.get("destinations_exclude")),
            min_turnover_mad=_decimal(rules.get("min_turnover_mad")),
            max_turnover_mad=_decimal(rules.get("max_turnover_mad")),
            min_export_turnover_mad=_decimal(rules.get("min_export_turnover_mad")),
            min_export_share_pct=_decimal(rules.get("min_export_share_pct")),
            min_years_exporting=rules.get("min_years_exporting"),
            max_employees=rules.get("max_employees"),
            payment_terms_include=_codes(rules.get("payment_terms_include")),
            requires_audited_accounts=bool(rules.get("requires_audited_accounts")),
            min_collateral_pct=_decimal(rules.get("min_collateral_pct")),
            requires_guarantee=bool(rules.get("requires_guarantee")),
            requires_insurance=bool(rules.get("requires_insurance")),
        ),
        pricing=Pricing(
            indicative_rate_pct=_decimal(pricing.get("indicative_rate_pct")),
            fees_pct=_decimal(pricing.get("fees_pct")),
            premium_pct=_decimal(pricing.get("premium_pct")),
        ),
        cover_pct=_decimal(doc.get("cover_pct")),
        covers_instruments=tuple(doc.get("covers_instruments") or ()),
        partner_provider_ids=tuple(UUID(p) for p in doc.get("partner_provider_ids") or ()),
        decision_days=doc.get("decision_days"),
        valid_from=date.fromisoformat(doc["valid_from"]) if doc.get("valid_from") else None,
        valid_to=date.fromisoformat(doc["valid_to"]) if doc.get("valid_to") else None,
    )
