"""What the engine evaluates, read once from the projected snapshots into exact, typed facts.

Both the engine and the oracle start from these, so they differ only in how they evaluate the
rules. Amounts become MAD centimes through the reference FX table (`None` where the table has
no rate for the currency); destinations named by a bloc or a world region become the set of
their countries; pricing percentages become millionths of a percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from tasdir.contracts import events
from tasdir.reference import (
    FxTable,
    bloc_members,
    expand_destinations,
    expand_instrument_request,
    hs_chapter_of,
    to_mad,
)
from tasdir.reference.errors import InvalidReferenceCode

GUARANTEE = "export_credit_guarantee"
INSURANCE = "export_credit_insurance"


def cents(amount: Decimal | None, currency: str, table: FxTable) -> int | None:
    """`amount` in MAD centimes, or None when there is no amount or no reference rate."""
    if amount is None:
        return None
    try:
        return int(to_mad(amount, currency, table=table) * 100)
    except InvalidReferenceCode:
        return None


def micro_pct(value: float | Decimal | None) -> int | None:
    """A percentage in millionths of a percent (exact for up to six decimals)."""
    if value is None:
        return None
    return int((Decimal(str(value)) * 1_000_000).to_integral_value())


def cover_units(value: float | Decimal | None) -> int | None:
    """A cover percentage as a share in units of 1/10,000 (80% is 8000)."""
    if value is None:
        return None
    return int((Decimal(str(value)) * 100).to_integral_value())


@dataclass(frozen=True, slots=True)
class Profile:
    """An exporter's profile as the rules read it."""

    exporter_id: UUID
    active: bool
    region: str
    turnover_cents: int | None
    export_turnover_cents: int | None
    export_share_pct: float | None
    years_exporting: int | None
    employees: int | None
    audited_accounts: bool | None
    collateral_cents: int | None
    is_mono_market: bool | None
    markets: frozenset[str]
    # The answers themselves, as the exporter gave them (for the messages).
    annual_turnover_mad: Decimal | None
    export_turnover_mad: Decimal | None
    collateral_available_mad: Decimal | None

    @classmethod
    def of(cls, snapshot: events.ExporterSnapshot, today: date | None = None) -> Profile:
        """The profile of the exporter's latest snapshot. Two answers are derived here rather
        than taken as sent: the years of exporting count from `exporting_since` to `today`'s
        year (the snapshot's figure dates from its event), and a zero turnover means a zero
        export share (the snapshot leaves the share unknown, as a division by zero)."""

        def mad(value: Decimal | None) -> int | None:
            return None if value is None else int(value * 100)

        years = snapshot.years_exporting
        if snapshot.exporting_since is not None:
            year = (today or date.today()).year
            years = max(0, year - snapshot.exporting_since)
        share = snapshot.export_share_pct
        if share is None and snapshot.annual_turnover_mad == 0:
            share = 0.0
        return cls(
            exporter_id=snapshot.id,
            active=snapshot.status == "active",
            region=snapshot.region,
            turnover_cents=mad(snapshot.annual_turnover_mad),
            export_turnover_cents=mad(snapshot.export_turnover_mad),
            export_share_pct=share,
            years_exporting=years,
            employees=snapshot.employees,
            audited_accounts=snapshot.audited_accounts,
            collateral_cents=mad(snapshot.collateral_available_mad),
            is_mono_market=snapshot.is_mono_market,
            markets=frozenset(line.destination for line in snapshot.exports),
            annual_turnover_mad=snapshot.annual_turnover_mad,
            export_turnover_mad=snapshot.export_turnover_mad,
            collateral_available_mad=snapshot.collateral_available_mad,
        )


@dataclass(frozen=True, slots=True)
class Request:
    """A financing request as the rules read it."""

    id: UUID
    exporter_id: UUID
    instruments: frozenset[str]
    currency: str
    amount: Decimal
    amount_cents: int | None
    tenor_days: int
    destination: str
    hs_codes: tuple[str, ...]
    hs_chapters: frozenset[str]
    payment_terms: str

    @classmethod
    def of(cls, snapshot: events.FinancingRequestSnapshot, table: FxTable) -> Request:
        try:
            instruments = expand_instrument_request(snapshot.instrument)
        except InvalidReferenceCode:
            instruments = frozenset()
        chapters = set()
        for code in snapshot.hs_codes:
            try:
                chapters.add(hs_chapter_of(code))
            except InvalidReferenceCode:
                chapters.add(code[:2])
        return cls(
            id=snapshot.id,
            exporter_id=snapshot.exporter_id,
            instruments=instruments,
            currency=snapshot.currency,
            amount=snapshot.amount,
            amount_cents=cents(snapshot.amount, snapshot.currency, table),
            tenor_days=snapshot.tenor_days,
            destination=snapshot.destination,
            hs_codes=tuple(snapshot.hs_codes),
            hs_chapters=frozenset(chapters),
            payment_terms=snapshot.payment_terms,
        )


def _countries(codes: tuple[str, ...] | None) -> frozenset[str] | None:
    if codes is None:
        return None
    try:
        return expand_destinations(codes)
    except InvalidReferenceCode:
        # A code this data version does not know covers no country.
        return expand_destinations([c for c in codes if _known_destination(c)])


def _known_destination(code: str) -> bool:
    try:
        expand_destinations(code)
    except InvalidReferenceCode:
        return False
    return True


def _set(codes: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if codes is None else frozenset(codes)


@dataclass(frozen=True, slots=True)
class Product:
    """A published product version as the rules read it."""

    id: UUID
    provider_id: UUID
    product_version: int
    instrument: str
    currencies: frozenset[str]
    amount_currency: str
    amount_min: Decimal | None
    amount_max: Decimal | None
    amount_min_cents: int | None
    amount_max_cents: int | None
    tenor_min_days: int | None
    tenor_max_days: int | None
    hs_include: frozenset[str] | None
    hs_exclude: frozenset[str] | None
    destinations_include: tuple[str, ...] | None
    destinations_exclude: tuple[str, ...] | None
    countries_include: frozenset[str] | None
    countries_exclude: frozenset[str] | None
    regions: frozenset[str] | None
    min_turnover_cents: int | None
    max_turnover_cents: int | None
    min_export_turnover_cents: int | None
    min_export_share_pct: float | None
    min_years_exporting: int | None
    max_employees: int | None
    payment_terms: frozenset[str] | None
    requires_audited_accounts: bool
    min_collateral_pct: float | None
    min_collateral_u: int | None
    requires_guarantee: bool
    requires_insurance: bool
    valid_from: date | None
    valid_to: date | None
    rate_u: int | None
    fees_u: int | None
    premium_u: int | None
    cover_u: int | None
    decision_days: int | None
    covers_instruments: frozenset[str]
    partner_provider_ids: frozenset[UUID]
    name_en: str
    name_fr: str

    @classmethod
    def of(cls, snapshot: events.ProductSnapshot, table: FxTable) -> Product:
        rules = snapshot.eligibility
        mad = snapshot.amount_currency

        def money(value: Decimal | None) -> int | None:
            return None if value is None else int(value * 100)

        return cls(
            id=snapshot.id,
            provider_id=snapshot.provider_id,
            product_version=snapshot.product_version,
            instrument=snapshot.instrument,
            currencies=frozenset(snapshot.currencies),
            amount_currency=mad,
            amount_min=snapshot.amount_min,
            amount_max=snapshot.amount_max,
            amount_min_cents=cents(snapshot.amount_min, mad, table),
            amount_max_cents=cents(snapshot.amount_max, mad, table),
            tenor_min_days=snapshot.tenor_min_days,
            tenor_max_days=snapshot.tenor_max_days,
            hs_include=_set(rules.hs_chapters_include),
            hs_exclude=_set(rules.hs_chapters_exclude),
            destinations_include=rules.destinations_include,
            destinations_exclude=rules.destinations_exclude,
            countries_include=_countries(rules.destinations_include),
            countries_exclude=_countries(rules.destinations_exclude),
            regions=_set(rules.regions),
            min_turnover_cents=money(rules.min_turnover_mad),
            max_turnover_cents=money(rules.max_turnover_mad),
            min_export_turnover_cents=money(rules.min_export_turnover_mad),
            min_export_share_pct=rules.min_export_share_pct,
            min_years_exporting=rules.min_years_exporting,
            max_employees=rules.max_employees,
            payment_terms=_set(rules.payment_terms_include),
            requires_audited_accounts=rules.requires_audited_accounts,
            min_collateral_pct=rules.min_collateral_pct,
            min_collateral_u=micro_pct(rules.min_collateral_pct),
            requires_guarantee=rules.requires_guarantee,
            requires_insurance=rules.requires_insurance,
            valid_from=snapshot.valid_from,
            valid_to=snapshot.valid_to,
            rate_u=micro_pct(snapshot.pricing.indicative_rate_pct),
            fees_u=micro_pct(snapshot.pricing.fees_pct),
            premium_u=micro_pct(snapshot.pricing.premium_pct),
            cover_u=cover_units(snapshot.cover_pct),
            decision_days=snapshot.decision_days,
            covers_instruments=frozenset(snapshot.covers_instruments),
            partner_provider_ids=frozenset(snapshot.partner_provider_ids),
            name_en=snapshot.name.en,
            name_fr=snapshot.name.fr,
        )

    @property
    def is_bundle_product(self) -> bool:
        return self.instrument in (GUARANTEE, INSURANCE)

    @property
    def one_off_u(self) -> int:
        """Its one-off fees and premium, in millionths of a percent."""
        return (self.fees_u or 0) + (self.premium_u or 0)

    @property
    def priced(self) -> bool:
        return self.rate_u is not None or self.fees_u is not None or self.premium_u is not None

    def preference(self) -> tuple[int, int, int, int]:
        """The order in which bundles are chosen: the highest cover, then the lowest one-off
        cost, then the quickest decision, then the product id."""
        days = self.decision_days if self.decision_days is not None else 1 << 30
        return (-(self.cover_u or 0), self.one_off_u, days, self.id.int)


def strategic_countries(priority_blocs: tuple[str, ...]) -> frozenset[str]:
    """The member countries of the priority blocs (an unknown bloc code adds none)."""
    members: set[str] = set()
    for code in priority_blocs:
        try:
            members |= bloc_members(code)
        except InvalidReferenceCode:
            continue
    return frozenset(members)


def is_strategic(request: Request, profile: Profile, priority: frozenset[str]) -> bool:
    """A destination in a priority bloc, or a new market for a mono-market exporter."""
    new_market = bool(profile.is_mono_market) and request.destination not in profile.markets
    return request.destination in priority or new_market
