"""The API models of products: what a provider sends to create one (`ProductCreate`), to revise
it (`ProductUpdate`), and what everyone reads (`ProductPublic`).

Amounts are decimals: sent as a JSON number or a string of digits, answered as a string with the
currency's minor units. Percentages are JSON numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from tasdir.models import DecimalInput, IsoDate, omittable
from tasdir.reference import quantize
from tasdir.reference.codes import (
    CurrencyCode,
    DestinationCode,
    HsChapterCode,
    InstrumentCode,
    RegionCode,
)
from tasdir.text import Text

from credit_products.domain.product import (
    DECISION_MAX_DAYS,
    DESCRIPTION_MAX,
    NAME_MAX,
    TENOR_MAX_DAYS,
    Eligibility,
    Localized,
    Pricing,
    Product,
    ProductTerms,
    ProductVersion,
)

Amount = Annotated[Decimal, DecimalInput(places=4, description="An amount in `amount_currency`.")]
Mad = Annotated[Decimal, DecimalInput(places=2, description="An amount in MAD.")]
Percent = Annotated[float, Field(ge=0, le=100)]
Days = Annotated[int, Field(ge=1, le=TENOR_MAX_DAYS)]
PaymentTerm = Literal["advance", "lc", "documentary_collection", "open_account"]


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _codes(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


class LocalizedName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fr: Annotated[str, Text(NAME_MAX)]
    en: Annotated[str, Text(NAME_MAX)]


class LocalizedDescription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fr: Annotated[str, Text(DESCRIPTION_MAX, multiline=True)]
    en: Annotated[str, Text(DESCRIPTION_MAX, multiline=True)]


class EligibilityIn(BaseModel):
    """The rules a request and its exporter must meet. A rule left out is no rule."""

    model_config = ConfigDict(extra="forbid")

    regions: list[RegionCode] | None = Field(default=None, max_length=12)
    hs_chapters_include: list[HsChapterCode] | None = Field(
        default=None, max_length=100, description="Every HS code of a request in these chapters."
    )
    hs_chapters_exclude: list[HsChapterCode] | None = Field(
        default=None, max_length=100, description="No HS code of a request in these chapters."
    )
    destinations_include: list[DestinationCode] | None = Field(
        default=None,
        max_length=300,
        description="Countries, blocs (`afcfta`) or world regions (`western-asia`).",
    )
    destinations_exclude: list[DestinationCode] | None = Field(default=None, max_length=300)
    min_turnover_mad: Mad | None = None
    max_turnover_mad: Mad | None = None
    min_export_turnover_mad: Mad | None = None
    min_export_share_pct: Percent | None = None
    min_years_exporting: Annotated[int, Field(ge=0, le=200)] | None = None
    max_employees: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    payment_terms_include: list[PaymentTerm] | None = None
    requires_audited_accounts: StrictBool = False
    min_collateral_pct: Annotated[float, Field(ge=0, le=1000)] | None = Field(
        default=None, description="Collateral as a percentage of the amount; may exceed 100."
    )
    requires_guarantee: StrictBool = False
    requires_insurance: StrictBool = False

    def domain(self) -> Eligibility:
        return Eligibility(
            regions=_codes(self.regions),
            hs_chapters_include=_codes(self.hs_chapters_include),
            hs_chapters_exclude=_codes(self.hs_chapters_exclude),
            destinations_include=_codes(self.destinations_include),
            destinations_exclude=_codes(self.destinations_exclude),
            min_turnover_mad=self.min_turnover_mad,
            max_turnover_mad=self.max_turnover_mad,
            min_export_turnover_mad=self.min_export_turnover_mad,
            min_export_share_pct=_decimal(self.min_export_share_pct),
            min_years_exporting=self.min_years_exporting,
            max_employees=self.max_employees,
            payment_terms_include=_codes(self.payment_terms_include),  # type: ignore[arg-type]
            requires_audited_accounts=self.requires_audited_accounts,
            min_collateral_pct=_decimal(self.min_collateral_pct),
            requires_guarantee=self.requires_guarantee,
            requires_insurance=self.requires_insurance,
        )


class PricingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicative_rate_pct: Percent | None = Field(default=None, description="Per year.")
    fees_pct: Percent | None = Field(default=None, description="One-off, of the amount.")
    premium_pct: Percent | None = Field(default=None, description="One-off, of the amount.")

    def domain(self) -> Pricing:
        return Pricing(
            indicative_rate_pct=_decimal(self.indicative_rate_pct),
            fees_pct=_decimal(self.fees_pct),
            premium_pct=_decimal(self.premium_pct),
        )


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedName
    description: LocalizedDescription
    instrument: InstrumentCode
    currencies: Annotated[list[CurrencyCode], Field(min_length=1, max_length=20)]
    amount_currency: CurrencyCode
    amount_min: Amount | None = None
    amount_max: Amount | None = None
    tenor_min_days: Days | None = None
    tenor_max_days: Days | None = None
    eligibility: EligibilityIn = EligibilityIn()
    pricing: PricingIn = PricingIn()
    cover_pct: Percent | None = Field(
        default=None, description="Required for guarantees and insurance."
    )
    covers_instruments: list[InstrumentCode] = Field(
        default=[], max_length=20, description="A guarantee's: the instruments it covers."
    )
    partner_provider_ids: list[UUID] = Field(
        default=[], max_length=100, description="A guarantee's: the banks it works with; none, any."
    )
    decision_days: Annotated[int, Field(ge=0, le=DECISION_MAX_DAYS)] | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    def terms(self) -> ProductTerms:
        return ProductTerms(
            name=Localized(fr=self.name.fr, en=self.name.en),
            description=Localized(fr=self.description.fr, en=self.description.en),
            instrument=self.instrument,
            currencies=tuple(self.currencies),
            amount_currency=self.amount_currency,
            amount_min=self.amount_min,
            amount_max=self.amount_max,
            tenor_min_days=self.tenor_min_days,
            tenor_max_days=self.tenor_max_days,
            eligibility=self.eligibility.domain(),
            pricing=self.pricing.domain(),
            cover_pct=_decimal(self.cover_pct),
            covers_instruments=tuple(self.covers_instruments),
            partner_provider_ids=tuple(self.partner_provider_ids),
            decision_days=self.decision_days,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


class ProductUpdate(BaseModel):
    """Only the fields sent change, each replaced whole (send the whole `eligibility`). The
    optional fields take null to clear them; the others always take a value."""

    model_config = ConfigDict(extra="forbid")

    name: LocalizedName = omittable()
    description: LocalizedDescription = omittable()
    instrument: InstrumentCode = omittable()
    currencies: Annotated[list[CurrencyCode], Field(min_length=1, max_length=20)] = omittable()
    amount_currency: CurrencyCode = omittable()
    amount_min: Amount | None = None
    amount_max: Amount | None = None
    tenor_min_days: Days | None = None
    tenor_max_days: Days | None = None
    eligibility: EligibilityIn = omittable()
    pricing: PricingIn = omittable()
    cover_pct: Percent | None = None
    covers_instruments: Annotated[list[InstrumentCode], Field(max_length=20)] = omittable()
    partner_provider_ids: Annotated[list[UUID], Field(max_length=100)] = omittable()
    decision_days: Annotated[int, Field(ge=0, le=DECISION_MAX_DAYS)] | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    def changes(self) -> dict[str, object]:
        sent: dict[str, object] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name in ("name", "description"):
                value = Localized(fr=value.fr, en=value.en)
            elif name in ("eligibility", "pricing"):
                value = value.domain()
            elif name == "cover_pct":
                value = _decimal(value)
            elif isinstance(value, list):
                value = tuple(value)
            sent[name] = value
        return sent


class Text2(BaseModel):
    fr: str
    en: str


class EligibilityPublic(BaseModel):
    regions: list[str] | None
    hs_chapters_include: list[str] | None
    hs_chapters_exclude: list[str] | None
    destinations_include: list[str] | None
    destinations_exclude: list[str] | None
    min_turnover_mad: str | None
    max_turnover_mad: str | None
    min_export_turnover_mad: str | None
    min_export_share_pct: float | None
    min_years_exporting: int | None
    max_employees: int | None
    payment_terms_include: list[str] | None
    requires_audited_accounts: bool
    min_collateral_pct: float | None
    requires_guarantee: bool
    requires_insurance: bool


class PricingPublic(BaseModel):
    indicative_rate_pct: float | None
    fees_pct: float | None
    premium_pct: float | None


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _mad(value: Decimal | None) -> str | None:
    return None if value is None else str(quantize(value, "MAD"))


class ProductPublic(BaseModel):
    id: UUID
    provider_id: UUID
    status: str = Field(description="The product's: draft, published or withdrawn.")
    version: int = Field(description="The number of the version shown.")
    version_status: str = Field(description="draft, published, superseded or withdrawn")
    name: Text2
    description: Text2
    instrument: str
    currencies: list[str]
    amount_currency: str
    amount_min: str | None
    amount_max: str | None
    tenor_min_days: int | None
    tenor_max_days: int | None
    eligibility: EligibilityPublic
    pricing: PricingPublic
    cover_pct: float | None
    covers_instruments: list[str]
    partner_provider_ids: list[UUID]
    decision_days: int | None
    valid_from: date | None
    valid_to: date | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, product: Product, version: ProductVersion | None = None) -> ProductPublic:
        """A version of the product: by default its latest (what its owner works on)."""
        shown = version or product.versions[-1]
        terms, rules = shown.terms, shown.terms.eligibility
        money = terms.amount_currency
        return cls(
            id=product.id,
            provider_id=product.provider_id,
            status=product.status,
            version=shown.number,
            version_status=shown.status,
            name=Text2(fr=terms.name.fr, en=terms.name.en),
            description=Text2(fr=terms.description.fr, en=terms.description.en),
            instrument=terms.instrument,
            currencies=list(terms.currencies),
            amount_currency=money,
            amount_min=None if terms.amount_min is None else str(quantize(terms.amount_min, money)),
            amount_max=None if terms.amount_max is None else str(quantize(terms.amount_max, money)),
            tenor_min_days=terms.tenor_min_days,
            tenor_max_days=terms.tenor_max_days,
            eligibility=EligibilityPublic(
                regions=None if rules.regions is None else list(rules.regions),
                hs_chapters_include=_list(rules.hs_chapters_include),
                hs_chapters_exclude=_list(rules.hs_chapters_exclude),
                destinations_include=_list(rules.destinations_include),
                destinations_exclude=_list(rules.destinations_exclude),
                min_turnover_mad=_mad(rules.min_turnover_mad),
                max_turnover_mad=_mad(rules.max_turnover_mad),
                min_export_turnover_mad=_mad(rules.min_export_turnover_mad),
                min_export_share_pct=_number(rules.min_export_share_pct),
                min_years_exporting=rules.min_years_exporting,
                max_employees=rules.max_employees,
                payment_terms_include=_list(rules.payment_terms_include),
                requires_audited_accounts=rules.requires_audited_accounts,
                min_collateral_pct=_number(rules.min_collateral_pct),
                requires_guarantee=rules.requires_guarantee,
                requires_insurance=rules.requires_insurance,
            ),
            pricing=PricingPublic(
                indicative_rate_pct=_number(terms.pricing.indicative_rate_pct),
                fees_pct=_number(terms.pricing.fees_pct),
                premium_pct=_number(terms.pricing.premium_pct),
            ),
            cover_pct=_number(terms.cover_pct),
            covers_instruments=list(terms.covers_instruments),
            partner_provider_ids=list(terms.partner_provider_ids),
            decision_days=terms.decision_days,
            valid_from=terms.valid_from,
            valid_to=terms.valid_to,
            created_at=shown.created_at,
            updated_at=shown.updated_at,
            published_at=shown.published_at,
            withdrawn_at=shown.withdrawn_at,
        )


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)
