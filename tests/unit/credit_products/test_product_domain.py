"""The product aggregate alone: its rules, its versions and the events it raises."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from credit_products.domain.product import (
    Eligibility,
    Localized,
    Pricing,
    Product,
    ProductTerms,
)
from tasdir.contracts import events
from tasdir.errors import Conflict, Invalid

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PROVIDER = uuid4()


def terms(**changes: object) -> ProductTerms:
    base = ProductTerms(
        name=Localized(fr="Préfinancement export", en="Pre-export loan"),
        description=Localized(fr="Un crédit avant expédition.", en="A loan before shipment."),
        instrument="pre_export_finance",
        currencies=("MAD", "EUR"),
        amount_currency="MAD",
        amount_min=Decimal("500000"),
        amount_max=Decimal("20000000"),
        tenor_min_days=30,
        tenor_max_days=360,
        eligibility=Eligibility(
            hs_chapters_include=tuple(f"{n:02d}" for n in range(1, 25)),
            destinations_include=("afcfta",),
            requires_audited_accounts=True,
            requires_guarantee=True,
            max_employees=250,
        ),
        pricing=Pricing(indicative_rate_pct=Decimal("5.5"), fees_pct=Decimal("0.5")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rules(**changes: object) -> Eligibility:
    return replace(Eligibility(), **changes)  # type: ignore[arg-type]


INVALID = {
    "instrument-unknown": ({"instrument": "loan_shark"}, "instrument"),
    "currencies-none": ({"currencies": ()}, "currencies"),
    "currency-unknown": ({"currencies": ("MAD", "ABC")}, "currencies.1"),
    "amount-currency-unknown": ({"amount_currency": "XYZ"}, "amount_currency"),
    "amount-min-above-max": ({"amount_min": Decimal("30000000")}, "amount_min"),
    "amount-negative": ({"amount_min": Decimal("-1")}, "amount_min"),
    "amount-cents-of-xof": (
        {"amount_currency": "XOF", "amount_min": Decimal("10.5")},
        "amount_min",
    ),
    "tenor-min-above-max": ({"tenor_min_days": 400}, "tenor_min_days"),
    "tenor-over-ten-years": ({"tenor_max_days": 3651}, "tenor_max_days"),
    "name-blank": ({"name": Localized(fr=" ", en="Loan")}, "name.fr"),
    "description-bidi": ({"description": Localized(fr="a", en="b\u202e")}, "description.en"),
    "region-unknown": ({"eligibility": rules(regions=("atlantis",))}, "eligibility.regions.0"),
    "hs-chapter-unknown": (
        {"eligibility": rules(hs_chapters_include=("77",))},
        "eligibility.hs_chapters_include.0",
    ),
    "hs-both-ways": (
        {"eligibility": rules(hs_chapters_include=("08",), hs_chapters_exclude=("08",))},
        "eligibility.hs_chapters_exclude",
    ),
    "destination-unknown": (
        {"eligibility": rules(destinations_include=("atlantis",))},
        "eligibility.destinations_include.0",
    ),
    "destination-both-ways": (
        {"eligibility": rules(destinations_include=("CI",), destinations_exclude=("CI",))},
        "eligibility.destinations_exclude",
    ),
    "turnover-min-above-max": (
        {"eligibility": rules(min_turnover_mad=Decimal(10), max_turnover_mad=Decimal(5))},
        "eligibility.min_turnover_mad",
    ),
    "export-share-over-100": (
        {"eligibility": rules(min_export_share_pct=Decimal(101))},
        "eligibility.min_export_share_pct",
    ),
    "payment-term-unknown": (
        {"eligibility": rules(payment_terms_include=("barter",))},
        "eligibility.payment_terms_include.0",
    ),
    "rate-over-100": (
        {"pricing": Pricing(indicative_rate_pct=Decimal(120))},
        "pricing.indicative_rate_pct",
    ),
    "valid-from-after-to": (
        {"valid_from": date(2027, 1, 1), "valid_to": date(2026, 1, 1)},
        "valid_from",
    ),
    "valid-from-on-to": (
        {"valid_from": date(2027, 1, 1), "valid_to": date(2027, 1, 1)},
        "valid_from",
    ),
    "guarantee-without-cover": (
        {"instrument": "export_credit_guarantee", "covers_instruments": ("pre_export_finance",)},
        "cover_pct",
    ),
    "guarantee-covering-nothing": (
        {"instrument": "export_credit_guarantee", "cover_pct": Decimal(70)},
        "covers_instruments",
    ),
    "guarantee-covering-a-guarantee": (
        {
            "instrument": "export_credit_guarantee",
            "cover_pct": Decimal(70),
            "covers_instruments": ("export_credit_guarantee",),
        },
        "covers_instruments.0",
    ),
    "insurance-without-cover": ({"instrument": "export_credit_insurance"}, "cover_pct"),
    "loan-covering-instruments": (
        {"covers_instruments": ("pre_export_finance",)},
        "covers_instruments",
    ),
    "loan-with-partners": ({"partner_provider_ids": (uuid4(),)}, "partner_provider_ids"),
    "cover-over-100": (
        {"instrument": "export_credit_insurance", "cover_pct": Decimal(101)},
        "cover_pct",
    ),
    "decision-days-over-a-year": ({"decision_days": 400}, "decision_days"),
}


@pytest.mark.parametrize(("changes", "field"), list(INVALID.values()), ids=list(INVALID))
def test_each_rule_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        Product.create(provider_id=PROVIDER, terms=terms(**changes), now=NOW)
    assert field in {e["field"] for e in refused.value.extra["errors"]}
    assert refused.value.kind == "invalid-product"


def test_collateral_may_exceed_the_amount() -> None:
    product = Product.create(
        provider_id=PROVIDER,
        terms=terms(eligibility=rules(min_collateral_pct=Decimal(120))),
        now=NOW,
    )
    assert product.versions[0].terms.eligibility.min_collateral_pct == Decimal(120)


def test_a_product_goes_through_its_versions_and_events() -> None:
    product = Product.create(provider_id=PROVIDER, terms=terms(), now=NOW)
    assert (product.status, product.version, product.draft is not None) == ("draft", 0, True)
    assert product.view(owner=False) is None  # nobody else sees a draft
    # A draft changes in place.
    assert product.revise({"tenor_max_days": 300}, now=NOW)
    assert len(product.versions) == 1
    first = product.publish(now=NOW)
    assert isinstance(first, events.ProductPublished)
    assert (first.product_version, product.version, first.tenor_max_days) == (1, 1, 300)
    assert first.eligibility.destinations_include == ("afcfta",)
    # Revising the published product makes a draft of version 2; version 1 stays in force.
    assert product.revise({"pricing": Pricing(indicative_rate_pct=Decimal(6))}, now=NOW)
    assert [v.status for v in product.versions] == ["published", "draft"]
    current = product.view(owner=False)
    assert current is not None and current.number == 1
    second = product.publish(now=NOW)
    assert (second.product_version, product.version) == (2, 2)
    assert [v.status for v in product.versions] == ["superseded", "published"]
    old = product.at(1, owner=False)
    assert old is not None and old.terms.pricing.indicative_rate_pct == Decimal("5.5")
    withdrawn = product.withdraw(now=NOW)
    assert isinstance(withdrawn, events.ProductWithdrawn)
    assert (withdrawn.status, withdrawn.product_version, product.version) == ("withdrawn", 2, 3)
    with pytest.raises(Conflict):
        product.revise({"tenor_max_days": 200}, now=NOW)
    with pytest.raises(Conflict):
        product.publish(now=NOW)
    with pytest.raises(Conflict):
        product.withdraw(now=NOW)


def test_nothing_to_publish_and_nothing_changed() -> None:
    product = Product.create(provider_id=PROVIDER, terms=terms(), now=NOW)
    product.publish(now=NOW)
    with pytest.raises(Conflict) as nothing:
        product.publish(now=NOW)
    assert nothing.value.kind == "nothing-to-publish"
    assert product.revise({"tenor_max_days": 360}, now=NOW) is False  # the same: no draft
    assert len(product.versions) == 1
    with pytest.raises(Invalid):
        product.revise({"status": "withdrawn"}, now=NOW)
    with pytest.raises(Conflict):
        Product.create(provider_id=PROVIDER, terms=terms(), now=NOW).withdraw(now=NOW)


def test_the_catalogue_filters_read_the_rules() -> None:
    loan = terms(
        eligibility=rules(
            destinations_include=("africa", "western-asia"),
            destinations_exclude=("EG",),
            hs_chapters_exclude=("93",),
        )
    )
    assert loan.covers_destination("CI") and loan.covers_destination("SA")
    assert not loan.covers_destination("EG") and not loan.covers_destination("FR")
    # A bloc or a region is served when some country of it is: Cyprus is in western Asia.
    assert loan.covers_destination("afcfta") and loan.covers_destination("eu")
    assert not loan.covers_destination("northern-america")
    assert loan.covers_hs_chapter("08") and not loan.covers_hs_chapter("93")
    assert loan.covers_amount(Decimal(500000)) and not loan.covers_amount(Decimal(499999))
    anywhere = terms(eligibility=Eligibility(), amount_min=None, amount_max=None)
    assert anywhere.covers_destination("FR") and anywhere.covers_amount(Decimal(1))


@pytest.mark.parametrize(
    "rule", ["regions", "hs_chapters_include", "destinations_include", "payment_terms_include"]
)
def test_an_empty_list_is_refused_rather_than_admitting_no_one(rule: str) -> None:
    with pytest.raises(Invalid) as refused:
        Product.create(provider_id=PROVIDER, terms=terms(eligibility=rules(**{rule: ()})), now=NOW)
    assert {e["field"] for e in refused.value.extra["errors"]} == {f"eligibility.{rule}"}
