"""The event catalogue (docs/events.md). Every payload is a full snapshot of its aggregate.

Fields are only ever added; a breaking change becomes a new `.vN` type beside the old one.
Optional fields are answers an exporter or provider may not have given yet.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from tasdir.contracts.base import FrozenModel, IntegrationEvent, registry

# ---------------------------------------------------------------- exporters


class ExportLine(FrozenModel):
    hs_code: str
    destination: str
    share_pct: float


ExporterStatus = Literal["active", "deactivated"]


class ExporterSnapshot(IntegrationEvent):
    id: UUID
    org: str
    status: ExporterStatus
    legal_name: str
    ice: str
    region: str
    legal_form: str | None = None
    founded_year: int | None = None
    exporting_since: int | None = None
    employees: int | None = None
    annual_turnover_mad: Decimal | None = None
    export_turnover_mad: Decimal | None = None
    exports: tuple[ExportLine, ...] = ()
    audited_accounts: bool | None = None
    collateral_available_mad: Decimal | None = None
    export_share_pct: float | None = None
    is_mono_market: bool | None = None
    is_mono_product: bool | None = None
    years_exporting: int | None = None


@registry.register("exporters.exporter.registered.v1")
class ExporterRegistered(ExporterSnapshot):
    pass


@registry.register("exporters.exporter.updated.v1")
class ExporterUpdated(ExporterSnapshot):
    pass


@registry.register("exporters.exporter.deactivated.v1")
class ExporterDeactivated(ExporterSnapshot):
    pass


class Buyer(FrozenModel):
    name: str
    country: str


RequestStatus = Literal[
    "submitted",
    "matched",
    "in_review",
    "referred",
    "rejected",
    "offered",
    "declined",
    "closed",
    "withdrawn",
]


class FinancingRequestSnapshot(IntegrationEvent):
    id: UUID
    exporter_id: UUID
    org: str
    status: RequestStatus
    # The exporter's region when it submitted: the advisors of that region work the request.
    region: str | None = None
    instrument: str
    amount: Decimal
    currency: str
    tenor_days: int
    destination: str
    hs_codes: tuple[str, ...]
    purpose: Literal["new_contract", "working_capital", "receivables", "market_entry"]
    payment_terms: Literal["advance", "lc", "documentary_collection", "open_account"]
    needed_by: date | None = None
    buyer: Buyer | None = None


@registry.register("exporters.financing_request.submitted.v1")
class FinancingRequestSubmitted(FinancingRequestSnapshot):
    pass


@registry.register("exporters.financing_request.amended.v1")
class FinancingRequestAmended(FinancingRequestSnapshot):
    pass


@registry.register("exporters.financing_request.withdrawn.v1")
class FinancingRequestWithdrawn(FinancingRequestSnapshot):
    pass


@registry.register("exporters.financing_request.closed.v1")
class FinancingRequestClosed(FinancingRequestSnapshot):
    pass


class ConsentSnapshot(IntegrationEvent):
    id: UUID
    exporter_id: UUID
    org: str
    provider_id: UUID
    status: Literal["granted", "revoked", "expired"]
    granted_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@registry.register("exporters.consent.granted.v1")
class ConsentGranted(ConsentSnapshot):
    pass


@registry.register("exporters.consent.revoked.v1")
class ConsentRevoked(ConsentSnapshot):
    pass


# ---------------------------------------------------------- credit_products


class ProviderSnapshot(IntegrationEvent):
    id: UUID
    name: str
    kind: Literal["bank", "guarantor", "insurer", "eca"]
    country: str
    regions: tuple[str, ...] = ()
    contact: str | None = None
    status: Literal["active", "suspended"] = "active"


@registry.register("credit_products.provider.registered.v1")
class ProviderRegistered(ProviderSnapshot):
    pass


@registry.register("credit_products.provider.updated.v1")
class ProviderUpdated(ProviderSnapshot):
    pass


class LocalizedText(FrozenModel):
    fr: str
    en: str


class Eligibility(FrozenModel):
    regions: tuple[str, ...] | None = None
    hs_chapters_include: tuple[str, ...] | None = None
    hs_chapters_exclude: tuple[str, ...] | None = None
    destinations_include: tuple[str, ...] | None = None
    destinations_exclude: tuple[str, ...] | None = None
    min_turnover_mad: Decimal | None = None
    max_turnover_mad: Decimal | None = None
    min_export_turnover_mad: Decimal | None = None
    min_export_share_pct: float | None = None
    min_years_exporting: int | None = None
    max_employees: int | None = None
    payment_terms_include: tuple[str, ...] | None = None
    requires_audited_accounts: bool = False
    min_collateral_pct: float | None = None
    requires_guarantee: bool = False
    requires_insurance: bool = False


class Pricing(FrozenModel):
    indicative_rate_pct: float | None = None
    fees_pct: float | None = None
    premium_pct: float | None = None


class ProductSnapshot(IntegrationEvent):
    id: UUID
    provider_id: UUID
    status: Literal["draft", "published", "withdrawn"]
    product_version: int
    name: LocalizedText
    description: LocalizedText
    instrument: str
    currencies: tuple[str, ...]
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    amount_currency: str
    tenor_min_days: int | None = None
    tenor_max_days: int | None = None
    eligibility: Eligibility = Eligibility()
    pricing: Pricing = Pricing()
    cover_pct: float | None = None
    covers_instruments: tuple[str, ...] = ()
    partner_provider_ids: tuple[UUID, ...] = ()
    decision_days: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None


@registry.register("credit_products.product.published.v1")
class ProductPublished(ProductSnapshot):
    pass


@registry.register("credit_products.product.withdrawn.v1")
class ProductWithdrawn(ProductSnapshot):
    pass


# ------------------------------------------------------------------ matching


class ReasonSnapshot(FrozenModel):
    code: str
    passed: bool


class MatchSnapshot(FrozenModel):
    product_id: UUID
    product_version: int
    provider_id: UUID
    tier: Literal["eligible", "conditional"]
    score: float
    score_components: dict[str, float] = {}
    reasons: tuple[ReasonSnapshot, ...] = ()
    missing: tuple[str, ...] = ()
    bundle: tuple[UUID, ...] = ()
    all_in_cost_pct: float | None = None
    new_since_review: bool = False


MatchSetStatus = Literal["proposed", "in_review", "approved", "rejected"]


class MatchSetSnapshot(IntegrationEvent):
    request_id: UUID
    exporter_id: UUID
    org: str
    region: str
    status: MatchSetStatus
    version: int
    computed_at: datetime
    catalogue_seq: int
    fx_as_of: date
    matches: tuple[MatchSnapshot, ...] = ()
    excluded_total: int = 0


@registry.register("matching.match_set.proposed.v1")
class MatchSetProposed(MatchSetSnapshot):
    pass


@registry.register("matching.match_set.updated.v1")
class MatchSetUpdated(MatchSetSnapshot):
    pass


@registry.register("matching.review.completed.v1")
class ReviewCompleted(IntegrationEvent):
    id: UUID
    request_id: UUID
    exporter_id: UUID
    org: str
    match_set_version: int
    decision: Literal["approve", "reject"]
    product_ids: tuple[UUID, ...] = ()
    note: str | None = None
    reviewer: str
    reviewed_at: datetime


class OfferTerms(FrozenModel):
    amount: Decimal
    currency: str
    rate_pct: float
    tenor_days: int
    fees_pct: float
    conditions: str | None = None
    valid_until: datetime
    binding: bool


ReferralStatus = Literal["sent", "interested", "info_requested", "offer", "declined"]


class ProviderResponse(FrozenModel):
    status: Literal["interested", "info_requested", "offer", "declined"]
    message: str | None = None
    terms: OfferTerms | None = None
    reason_code: str | None = None
    recorded_at: datetime


class ExporterReply(FrozenModel):
    """The exporter's answer to a provider's question (`info_requested`)."""

    message: str
    replied_at: datetime


class ReferralSnapshot(IntegrationEvent):
    id: UUID
    request_id: UUID
    exporter_id: UUID
    org: str
    provider_id: UUID
    product_id: UUID
    product_version: int
    bundle: tuple[UUID, ...] = ()
    status: ReferralStatus
    sent_at: datetime
    response: ProviderResponse | None = None
    offer_decision: Literal["accepted", "declined", "expired"] | None = None
    decided_at: datetime | None = None
    reply: ExporterReply | None = None


@registry.register("matching.referral.sent.v1")
class ReferralSent(ReferralSnapshot):
    pass


@registry.register("matching.provider_response.recorded.v1")
class ProviderResponseRecorded(ReferralSnapshot):
    pass


@registry.register("matching.offer.decided.v1")
class OfferDecided(ReferralSnapshot):
    pass


@registry.register("matching.referral.replied.v1")
class ReferralReplied(ReferralSnapshot):
    """The exporter answered the provider's question; `reply` holds the answer."""
