"""The API models of exporters, apart from the event snapshots: per entity, what a client may
send to create it (`XCreate`), to change it (`XUpdate`) and what it reads (`XPublic`).

Money is a decimal: sent as a JSON number or a string, answered as a string with the currency's
minor units (MAD: 2).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool
from tasdir.models import DecimalInput, IsoDate, omittable
from tasdir.reference import quantize
from tasdir.reference.codes import CountryCode, CurrencyCode, HsCode, RegionCode
from tasdir.text import Text

from exporters.domain.consent import Consent
from exporters.domain.exporter import (
    ICE_LENGTH,
    LEGAL_FORM_MAX,
    LEGAL_NAME_MAX,
    MAX_EMPLOYEES,
    MAX_EXPORT_LINES,
    Exporter,
    ExportLine,
)
from exporters.domain.financing_request import (
    BUYER_NAME_MAX,
    MAX_HS_CODES,
    TENOR_MAX_DAYS,
    TENOR_MIN_DAYS,
    Buyer,
    FinancingRequest,
    PaymentTerms,
    Purpose,
)

Ice = Annotated[
    str,
    Field(
        pattern=f"^[0-9]{{{ICE_LENGTH}}}$",
        description="The Moroccan company id (ICE): 15 ASCII digits.",
        examples=["001234567000089"],
    ),
]
Mad = Annotated[Decimal, DecimalInput(places=2, description="An amount in MAD.")]
Year = Annotated[int, Field(ge=1800, le=2100)]


def mad(amount: Decimal | None) -> str | None:
    return None if amount is None else str(quantize(amount, "MAD"))


class ExportLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hs_code: HsCode
    destination: CountryCode
    share_pct: Annotated[
        Decimal,
        DecimalInput(places=2, digits=3, description="Its share of exports: above 0, at most 100."),
    ]

    def domain(self) -> ExportLine:
        return ExportLine(self.hs_code, self.destination, self.share_pct)


Exports = Annotated[list[ExportLineIn], Field(max_length=MAX_EXPORT_LINES)]


class ExporterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    legal_name: Annotated[str, Text(LEGAL_NAME_MAX)]
    ice: Ice
    region: RegionCode
    legal_form: Annotated[str, Text(LEGAL_FORM_MAX)] | None = None
    founded_year: Year | None = None
    exporting_since: Year | None = None
    employees: Annotated[int, Field(ge=0, le=MAX_EMPLOYEES)] | None = None
    annual_turnover_mad: Mad | None = None
    export_turnover_mad: Mad | None = None
    exports: Exports = []
    audited_accounts: StrictBool | None = None
    collateral_available_mad: Mad | None = None

    def fields(self) -> dict[str, object]:
        """The profile as the domain takes it."""
        sent = {name: getattr(self, name) for name in type(self).model_fields}
        sent["exports"] = tuple(line.domain() for line in self.exports)
        return sent


class ExporterUpdate(BaseModel):
    """Only the fields sent change. Optional fields take null to clear them; `legal_name`,
    `ice` and `region` always take a value."""

    model_config = ConfigDict(extra="forbid")

    legal_name: Annotated[str, Text(LEGAL_NAME_MAX)] = omittable()
    ice: Ice = omittable()
    region: RegionCode = omittable()
    legal_form: Annotated[str, Text(LEGAL_FORM_MAX)] | None = None
    founded_year: Year | None = None
    exporting_since: Year | None = None
    employees: Annotated[int, Field(ge=0, le=MAX_EMPLOYEES)] | None = None
    annual_turnover_mad: Mad | None = None
    export_turnover_mad: Mad | None = None
    exports: Exports = omittable()
    audited_accounts: StrictBool | None = None
    collateral_available_mad: Mad | None = None

    def changes(self) -> dict[str, object]:
        sent: dict[str, object] = {name: getattr(self, name) for name in self.model_fields_set}
        if "exports" in sent:
            sent["exports"] = tuple(line.domain() for line in self.exports)
        return sent


class ExportLinePublic(BaseModel):
    hs_code: str
    destination: str
    share_pct: float


class ExporterPublic(BaseModel):
    id: UUID
    org: str
    status: str
    legal_name: str
    ice: str
    region: str
    legal_form: str | None
    founded_year: int | None
    exporting_since: int | None
    employees: int | None
    annual_turnover_mad: str | None = Field(description="MAD, a decimal string")
    export_turnover_mad: str | None = Field(description="MAD, a decimal string")
    exports: list[ExportLinePublic]
    audited_accounts: bool | None
    collateral_available_mad: str | None = Field(description="MAD, a decimal string")
    export_share_pct: float | None
    is_mono_market: bool | None
    is_mono_product: bool | None
    years_exporting: int | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, exporter: Exporter, today: date | None = None) -> ExporterPublic:
        today = today or datetime.now(UTC).date()
        return cls(
            id=exporter.id,
            org=exporter.org,
            status=exporter.status,
            legal_name=exporter.legal_name,
            ice=exporter.ice,
            region=exporter.region,
            legal_form=exporter.legal_form,
            founded_year=exporter.founded_year,
            exporting_since=exporter.exporting_since,
            employees=exporter.employees,
            annual_turnover_mad=mad(exporter.annual_turnover_mad),
            export_turnover_mad=mad(exporter.export_turnover_mad),
            exports=[
                ExportLinePublic(
                    hs_code=x.hs_code, destination=x.destination, share_pct=float(x.share_pct)
                )
                for x in exporter.exports
            ],
            audited_accounts=exporter.audited_accounts,
            collateral_available_mad=mad(exporter.collateral_available_mad),
            export_share_pct=exporter.export_share_pct,
            is_mono_market=exporter.is_mono_market,
            is_mono_product=exporter.is_mono_product,
            years_exporting=exporter.years_exporting(today),
            version=exporter.version,
            created_at=exporter.created_at,
            updated_at=exporter.updated_at,
        )


class BuyerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Text(BUYER_NAME_MAX)]
    country: CountryCode

    def domain(self) -> Buyer:
        return Buyer(self.name, self.country)


InstrumentRequest = Annotated[
    str,
    Field(
        max_length=64,
        description="An instrument code, an instrument family, or `any` "
        "(see /v1/reference/instruments).",
        examples=["pre_export_finance", "post_shipment", "any"],
    ),
]
Amount = Annotated[
    Decimal,
    DecimalInput(places=4, description="In `currency`, above 0, with its decimals at most."),
]
Tenor = Annotated[int, Field(ge=TENOR_MIN_DAYS, le=TENOR_MAX_DAYS)]
HsCodes = Annotated[list[HsCode], Field(min_length=1, max_length=MAX_HS_CODES)]


class FinancingRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: InstrumentRequest
    amount: Amount
    currency: CurrencyCode
    tenor_days: Tenor
    destination: CountryCode
    hs_codes: HsCodes
    purpose: Purpose
    payment_terms: PaymentTerms
    needed_by: IsoDate | None = None
    buyer: BuyerIn | None = None

    def terms(self) -> dict[str, object]:
        sent = {name: getattr(self, name) for name in type(self).model_fields}
        sent["hs_codes"] = tuple(self.hs_codes)
        sent["buyer"] = None if self.buyer is None else self.buyer.domain()
        return sent


class FinancingRequestUpdate(BaseModel):
    """Only the fields sent change; `needed_by` and `buyer` take null to clear them."""

    model_config = ConfigDict(extra="forbid")

    instrument: InstrumentRequest = omittable()
    amount: Amount = omittable()
    currency: CurrencyCode = omittable()
    tenor_days: Tenor = omittable()
    destination: CountryCode = omittable()
    hs_codes: HsCodes = omittable()
    purpose: Purpose = omittable()
    payment_terms: PaymentTerms = omittable()
    needed_by: IsoDate | None = None
    buyer: BuyerIn | None = None

    def changes(self) -> dict[str, object]:
        sent: dict[str, object] = {name: getattr(self, name) for name in self.model_fields_set}
        if "hs_codes" in sent:
            sent["hs_codes"] = tuple(self.hs_codes)
        if "buyer" in sent:
            sent["buyer"] = None if self.buyer is None else self.buyer.domain()
        return sent


class BuyerPublic(BaseModel):
    name: str
    country: str


class FinancingRequestPublic(BaseModel):
    id: UUID
    exporter_id: UUID
    org: str
    region: str
    status: str
    instrument: str
    amount: str = Field(description="In `currency`, a decimal string with its minor units")
    currency: str
    tenor_days: int
    destination: str
    hs_codes: list[str]
    purpose: str
    payment_terms: str
    needed_by: date | None
    buyer: BuyerPublic | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, request: FinancingRequest) -> FinancingRequestPublic:
        return cls(
            id=request.id,
            exporter_id=request.exporter_id,
            org=request.org,
            region=request.region,
            status=request.status,
            instrument=request.instrument,
            amount=str(quantize(request.amount, request.currency)),
            currency=request.currency,
            tenor_days=request.tenor_days,
            destination=request.destination,
            hs_codes=list(request.hs_codes),
            purpose=request.purpose,
            payment_terms=request.payment_terms,
            needed_by=request.needed_by,
            buyer=(
                None
                if request.buyer is None
                else BuyerPublic(name=request.buyer.name, country=request.buyer.country)
            ),
            version=request.version,
            created_at=request.created_at,
            updated_at=request.updated_at,
        )


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_id: UUID
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the consent ends by itself; it must be in the future."
    )


class ConsentPublic(BaseModel):
    id: UUID
    exporter_id: UUID
    provider_id: UUID
    status: str = Field(description="granted, revoked, or expired (past `expires_at`)")
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    version: int

    @classmethod
    def of(cls, consent: Consent, now: datetime | None = None) -> ConsentPublic:
        return cls(
            id=consent.id,
            exporter_id=consent.exporter_id,
            provider_id=consent.provider_id,
            status=consent.effective_status(now or datetime.now(UTC)),
            granted_at=consent.granted_at,
            expires_at=consent.expires_at,
            revoked_at=consent.revoked_at,
            version=consent.version,
        )
