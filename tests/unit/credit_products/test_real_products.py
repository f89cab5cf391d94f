"""Publicly documented export-finance offers, written out as products: each is accepted as it
stands, published, and comes back, in the API and in its event, with no rule lost.

The terms are those the cited public pages state, and nothing more: where a page gives no
figure, the product gives none. Providers carry invented names, since a product here is our
writing of a public scheme, not the institution's own record. What the schema cannot say is
listed with each offer (`UNSAID`), and in the closing note of the products issue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tasdir.reference import to_mad
from unit.credit_products.test_products_api import Service, service  # noqa: F401

EUR_MILLION = Decimal(1_000_000)


def mad(eur: Decimal) -> str:
    """The schema states turnovers in MAD: a euro ceiling, through the reference FX table."""
    return str(to_mad(eur, "EUR"))


OFFERS: dict[str, tuple[dict[str, Any], list[str]]] = {
    # Bpifrance Assurance Export, "Garantie des préfinancements" (infogreffe, "Garantie des
    # cautions et préfinancements"): the bank's pre-financing credit of an export contract,
    # in euros, of at least 50,000 euros; guaranteed at 80 % for firms of up to 300 M EUR of
    # turnover. https://mesaidespubliques.infogreffe.fr/aides/garantie-cautions-prefinancements
    "state-backed-prefinancing-guarantee": (
        {
            "name": {"fr": "Garantie des préfinancements", "en": "Pre-financing guarantee"},
            "description": {
                "fr": "Couvre la banque qui préfinance un contrat d'exportation contre le "
                "non-remboursement par l'exportateur.",
                "en": "Covers the bank that pre-finances an export contract against the "
                "exporter's failure to repay.",
            },
            "instrument": "export_credit_guarantee",
            "currencies": ["EUR"],
            "amount_currency": "EUR",
            "amount_min": "50000",
            "cover_pct": 80,
            "covers_instruments": ["pre_export_finance"],
            "partner_provider_ids": [],
            "eligibility": {"max_turnover_mad": mad(300 * EUR_MILLION)},
        },
        [
            "the 50 % cover for firms above 300 M EUR of turnover (a second product would say it)",
            "a French share of at least 20 % of the contract",
            "the premium: 90 % of the bank's margin times the cover, not a fixed percentage",
            "a credit no longer than the contract's execution",
        ],
    ),
    # The pre-export loan that guarantee backs: "un crédit de préfinancement ... libellé en
    # euros, d'un montant minimum de 50 000 euros, et d'une durée inférieure ou égale à la
    # période d'exécution du contrat export" (same page).
    "pre-export-loan": (
        {
            "name": {"fr": "Crédit de préfinancement export", "en": "Pre-export loan"},
            "description": {
                "fr": "Finance les besoins de trésorerie de l'exécution d'un contrat "
                "d'exportation.",
                "en": "Finances the cash needs of carrying out an export contract.",
            },
            "instrument": "pre_export_finance",
            "currencies": ["EUR"],
            "amount_currency": "EUR",
            "amount_min": "50000",
            "eligibility": {"requires_guarantee": True},
        },
        ["a term no longer than the contract's execution", "a French share of at least 20 %"],
    ),
    # Bpifrance Assurance Export, export credit insurance: medium- and long-term export
    # credits, 3 to 10 years, in euros, covered at 95 %; supplier credits of 1 to 25 M EUR.
    # https://www.objectif-international.fr/financement/se-developper-et-simplanter-a-letranger/couvrir-vos-paiements/
    "export-credit-insurance": (
        {
            "name": {"fr": "Assurance-crédit export", "en": "Export credit insurance"},
            "description": {
                "fr": "Couvre le crédit export contre les risques politiques et commerciaux.",
                "en": "Covers the export credit against political and commercial risks.",
            },
            "instrument": "export_credit_insurance",
            "currencies": ["EUR"],
            "amount_currency": "EUR",
            "amount_min": "1000000",
            "amount_max": "25000000",
            "tenor_min_days": 1095,
            "tenor_max_days": 3650,
            "cover_pct": 95,
        },
        [
            "the buyer-credit amounts (5 to 75 M EUR), another product",
            "the countries the State's credit-insurance policy opens each year",
        ],
    ),
    # Bpifrance, Assurance prospection: 65 % of an approved prospection budget of at least
    # 30,000 EUR, a one-off premium of 3 %, for firms of up to 500 M EUR of turnover, over a
    # prospection period of 2 or 3 years. https://fonds-publics.fr/aides/assurance-prospection-international
    "prospection-insurance": (
        {
            "name": {"fr": "Assurance prospection", "en": "Prospection insurance"},
            "description": {
                "fr": "Prend en charge une part des dépenses de prospection d'une zone, "
                "remboursée selon le chiffre d'affaires export réalisé.",
                "en": "Bears part of the prospection spending on a market, repaid according "
                "to the export turnover it brings.",
            },
            "instrument": "prospection_insurance",
            "currencies": ["EUR"],
            "amount_currency": "EUR",
            "amount_min": "30000",
            "tenor_min_days": 730,
            "tenor_max_days": 1095,
            "cover_pct": 65,
            "pricing": {"premium_pct": 3},
            "eligibility": {"max_turnover_mad": mad(500 * EUR_MILLION)},
        },
        [
            "at least one 12-month balance sheet (the age of the firm, not of its exports)",
            "no international traders",
            "the repayment: 30 % in any case, the rest by the export turnover",
        ],
    ),
    # A documentary credit confirmed by a bank under the ICC's UCP 600: the exporter selling
    # on LC terms is paid by the confirming bank against compliant documents.
    "lc-confirmation": (
        {
            "name": {"fr": "Confirmation de crédit documentaire", "en": "LC confirmation"},
            "description": {
                "fr": "La banque ajoute son engagement de payer à celui de la banque émettrice "
                "(RUU 600).",
                "en": "The bank adds its own undertaking to pay to the issuing bank's (UCP 600).",
            },
            "instrument": "lc_confirmation",
            "currencies": ["EUR", "USD", "MAD"],
            "amount_currency": "EUR",
            "eligibility": {"payment_terms_include": ["lc"]},
        },
        ["the issuing bank's country risk, which a confirming bank prices case by case"],
    ),
}


def sent_rules_kept(sent: dict[str, Any], answered: dict[str, Any]) -> list[str]:
    """Every field sent, found again in the answer (money as decimals, lists as lists)."""
    lost = []
    for name, value in sent.items():
        got = answered.get(name)
        if isinstance(value, dict):
            lost += [f"{name}.{x}" for x in sent_rules_kept(value, got or {})]
        elif name.startswith(("amount_m", "min_turnover", "max_turnover", "min_export_turn")):
            if Decimal(str(value)) != Decimal(str(got)):
                lost.append(name)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if got is None or float(value) != float(got):
                lost.append(name)
        elif value != got:
            lost.append(name)
    return lost


@pytest.mark.parametrize("offer", list(OFFERS), ids=list(OFFERS))
async def test_a_documented_offer_is_accepted_as_it_stands(
    service: Service,  # noqa: F811
    offer: str,
) -> None:
    body, _unsaid = OFFERS[offer]
    bank = await service.provider(f"Provider of the {offer}")
    created = await service.client.post("/v1/products", json=body, headers=bank)
    assert created.status_code == 201, created.text
    published = await service.client.post(
        f"/v1/products/{created.json()['id']}/publish", headers=bank
    )
    assert published.status_code == 200, published.text
    assert sent_rules_kept(body, published.json()) == []
    (event,) = await service.product_events()
    assert sent_rules_kept(body, event.payload) == []
    assert event.payload["product_version"] == 1
