"""Hypothesis strategies for profiles, requests and catalogues, over small value spaces so that
the generated rules often sit exactly on a request's values (the boundaries are where an
engine and an oracle part ways)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from matching.domain.facts import Product, Profile, Request
from tasdir.contracts import events
from tasdir.reference import fx_table

FX = fx_table()
TODAY = date(2026, 11, 30)
PROVIDERS = [UUID(int=i + 1) for i in range(4)]
REGIONS = ["casablanca-settat", "souss-massa", "oriental", "fes-meknes"]
CURRENCIES = ["MAD", "EUR", "USD", "XOF", "BRL"]  # BRL has no reference rate
COUNTRIES = ["FR", "ES", "SN", "CI", "US", "RU", "CN", "NG"]
DESTINATIONS = [*COUNTRIES, "africa", "afcfta", "western-africa", "europe", "eu"]
CHAPTERS = ["03", "07", "08", "61", "62", "87", "93"]
HS_CODES = ["0303", "0702", "08", "0805", "080510", "6109", "62", "8708", "9301"]
BANK_INSTRUMENTS = ["pre_export_finance", "receivables_discounting", "lc_confirmation"]
INSTRUMENTS = [*BANK_INSTRUMENTS, "export_credit_insurance", "export_credit_guarantee"]
REQUESTED = ["any", "pre_shipment", "post_shipment", "lc_confirmation", "risk_cover"]
TERMS = ["advance", "lc", "documentary_collection", "open_account"]
MILLIONS = [Decimal(m) * 1_000_000 for m in (0, 1, 2, 5, 10, 20, 25)]
PCTS = [0.0, 10.0, 25.0, 33.33, 50.0, 100.0]
RATES = [None, 0.0, 1.25, 4.5, 6.125, 9.99]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def subset(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)


@st.composite
def product_snapshots(draw: st.DrawFn, product_id: int) -> events.ProductSnapshot:
    instrument = draw(st.sampled_from(INSTRUMENTS))
    bundle_kind = instrument in ("export_credit_guarantee", "export_credit_insurance")
    low = draw(maybe(st.sampled_from(MILLIONS)))
    high = draw(maybe(st.sampled_from(MILLIONS)))
    if low is not None and high is not None and low > high:
        low, high = high, low
    tenor_low = draw(maybe(st.sampled_from([30, 90, 180])))
    tenor_high = draw(maybe(st.sampled_from([180, 360, 720])))
    eligibility = {
        "regions": draw(maybe(subset(REGIONS))),
        "hs_chapters_include": draw(maybe(subset(CHAPTERS))),
        "hs_chapters_exclude": draw(maybe(subset(CHAPTERS))),
        "destinations_include": draw(maybe(subset(DESTINATIONS))),
        "destinations_exclude": draw(maybe(subset(DESTINATIONS))),
        "min_turnover_mad": draw(maybe(st.sampled_from(MILLIONS))),
        "max_turnover_mad": draw(maybe(st.sampled_from(MILLIONS))),
        "min_export_turnover_mad": draw(maybe(st.sampled_from(MILLIONS))),
        "min_export_share_pct": draw(maybe(st.sampled_from(PCTS))),
        "min_years_exporting": draw(maybe(st.integers(0, 4))),
        "max_employees": draw(maybe(st.sampled_from([10, 50, 250]))),
        "payment_terms_include": draw(maybe(subset(TERMS))),
        "requires_audited_accounts": draw(st.booleans()),
        "min_collateral_pct": draw(maybe(st.sampled_from(PCTS))),
        "requires_guarantee": draw(st.booleans()),
        "requires_insurance": draw(st.booleans()),
    }
    return events.ProductPublished(
        id=UUID(int=1000 + product_id),
        provider_id=draw(st.sampled_from(PROVIDERS)),
        status="published",
        product_version=1,
        name={"fr": f"Produit {product_id}", "en": f"Product {product_id}"},
        description={"fr": "-", "en": "-"},
        instrument=instrument,
        currencies=draw(subset(CURRENCIES)),
        amount_min=low,
        amount_max=high,
        amount_currency=draw(st.sampled_from(["MAD", "EUR", "XOF", "BRL"])),
        tenor_min_days=tenor_low,
        tenor_max_days=tenor_high,
        eligibility=eligibility,
        pricing={
            "indicative_rate_pct": draw(st.sampled_from(RATES)),
            "fees_pct": draw(st.sampled_from(RATES)),
            "premium_pct": draw(st.sampled_from(RATES)),
        },
        cover_pct=draw(st.sampled_from([50.0, 70.0, 80.0, 95.0]))
        if bundle_kind
        else draw(maybe(st.sampled_from([50.0, 80.0]))),
        covers_instruments=draw(subset(BANK_INSTRUMENTS))
        if instrument == "export_credit_guarantee"
        else [],
        partner_provider_ids=draw(st.lists(st.sampled_from(PROVIDERS), max_size=2, unique=True))
        if instrument == "export_credit_guarantee"
        else [],
        decision_days=draw(maybe(st.sampled_from([0, 5, 30, 90, 120]))),
        valid_from=draw(maybe(st.sampled_from([date(2026, 1, 1), TODAY, date(2027, 1, 1)]))),
        valid_to=draw(maybe(st.sampled_from([date(2026, 6, 30), TODAY, date(2027, 12, 31)]))),
    )


@st.composite
def lenient_product_snapshots(draw: st.DrawFn, product_id: int) -> events.ProductSnapshot:
    """A product with no rule but the bundles it needs: such products fit most requests, so
    bundles (which random rules almost never leave room for) come into play."""
    snapshot = draw(product_snapshots(product_id))
    return snapshot.model_copy(
        update={
            "currencies": tuple(CURRENCIES),
            "amount_min": None,
            "amount_max": None,
            "tenor_min_days": None,
            "tenor_max_days": None,
            "valid_from": None,
            "valid_to": None,
            "eligibility": events.Eligibility(
                requires_guarantee=draw(st.booleans()),
                requires_insurance=draw(st.booleans()),
            ),
        }
    )


@st.composite
def catalogues(draw: st.DrawFn, max_size: int = 25, lenient: bool = False) -> list[Product]:
    """Products with random rules; with `lenient`, about half of them have none but their
    bundles."""
    size = draw(st.integers(0, max_size))
    out = []
    for i in range(size):
        easy = lenient and draw(st.booleans())
        snapshot = draw(lenient_product_snapshots(i) if easy else product_snapshots(i))
        out.append(Product.of(snapshot, FX))
    return out


@st.composite
def exporter_snapshots(draw: st.DrawFn) -> events.ExporterSnapshot:
    return events.ExporterUpdated(
        id=UUID(int=7),
        org="org-7",
        status="active",
        legal_name="Atlas Agrumes SARL",
        ice="001234567000089",
        region=draw(st.sampled_from(REGIONS)),
        employees=draw(maybe(st.sampled_from([10, 49, 50, 250, 600]))),
        annual_turnover_mad=draw(maybe(st.sampled_from(MILLIONS))),
        export_turnover_mad=draw(maybe(st.sampled_from(MILLIONS))),
        audited_accounts=draw(maybe(st.booleans())),
        collateral_available_mad=draw(maybe(st.sampled_from(MILLIONS))),
        export_share_pct=draw(maybe(st.sampled_from(PCTS))),
        is_mono_market=draw(maybe(st.booleans())),
        years_exporting=draw(maybe(st.integers(0, 5))),
        exports=[{"hs_code": "0805", "destination": "FR", "share_pct": 100}],
    )


@st.composite
def request_snapshots(draw: st.DrawFn) -> events.FinancingRequestSnapshot:
    return events.FinancingRequestSubmitted(
        id=UUID(int=99),
        exporter_id=UUID(int=7),
        org="org-7",
        status="submitted",
        region="souss-massa",
        instrument=draw(st.sampled_from(REQUESTED)),
        amount=draw(st.sampled_from([m for m in MILLIONS if m] + [Decimal("1234567.89")])),
        currency=draw(st.sampled_from(CURRENCIES)),
        tenor_days=draw(st.sampled_from([30, 90, 179, 180, 360, 720, 721])),
        destination=draw(st.sampled_from(COUNTRIES)),
        hs_codes=draw(st.lists(st.sampled_from(HS_CODES), min_size=1, max_size=3, unique=True)),
        purpose="new_contract",
        payment_terms=draw(st.sampled_from(TERMS)),
    )


def profile_of(snapshot: events.ExporterSnapshot) -> Profile:
    return Profile.of(snapshot)


def request_of(snapshot: events.FinancingRequestSnapshot) -> Request:
    return Request.of(snapshot, FX)
