"""The demo catalogue: twelve fictitious providers and their sixty products.

Every name is invented; none is a real institution, and no real institution is given terms here.
The providers are modelled on the kinds of export-finance offer found in Morocco: banks that
pre-finance exports (préfinancement export) and discount foreign receivables (mobilisation de
créances nées à l'étranger), confirm letters of credit, factor and forfait; a factoring house; a
foreign correspondent bank; a public guarantee scheme that covers part of the banks' loans; two
credit insurers; and an export-credit agency that insures the risks the market does not, and
prospection.

The catalogue is fixed: the random seed varies the exporters and their requests
(`tasdir_cli.demo.generator`), not the offers they are matched with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class DemoProvider:
    """A provider: `key` names it in the data set; `body` is its `POST /v1/providers`."""

    key: str
    body: JsonObject


@dataclass(frozen=True)
class DemoProduct:
    """A product of `provider`: `body` is its `POST /v1/products`, without the partner banks of
    a guarantee, which are the providers named by key in `partners` (their ids are only known
    once they are registered)."""

    key: str
    provider: str
    body: JsonObject
    partners: tuple[str, ...] = field(default=())


def _chapters(*spans: tuple[int, int] | int) -> list[str]:
    """HS chapters as two-digit codes, from single chapters and inclusive ranges."""
    codes: list[str] = []
    for span in spans:
        low, high = span if isinstance(span, tuple) else (span, span)
        codes += [f"{n:02d}" for n in range(low, high + 1) if n != 77]  # 77 is reserved
    return codes


FOOD = _chapters((1, 24))
FISH = _chapters(3, 16, 23)
TEXTILES = _chapters((50, 64))
LEATHER_AND_TEXTILES = _chapters((41, 43), (50, 64))
MANUFACTURING = _chapters(39, 40, (50, 64), 73, 84, 85, 87, 94)
AUTOMOTIVE = _chapters(39, 40, 73, 84, 85, 87, 94)
MINERALS = _chapters(25, 28, 31)
TERROIR = _chapters(8, 9, 12, 13, 15, 20, 33)

SOUTH = [
    "draa-tafilalet",
    "oriental",
    "guelmim-oued-noun",
    "laayoune-sakia-el-hamra",
    "dakhla-oued-ed-dahab",
]
TENSIFT = ["marrakech-safi", "souss-massa", "beni-mellal-khenifra", "draa-tafilalet"]
NORTH = ["fes-meknes", "rabat-sale-kenitra", "tanger-tetouan-al-hoceima", "oriental"]

PROVIDERS: tuple[DemoProvider, ...] = (
    DemoProvider(
        "arganier",
        {
            "name": "Banque de l'Arganier",
            "kind": "bank",
            "country": "MA",
            "regions": [],
            "contact": "Direction export PME\nexport@arganier.example",
        },
    ),
    DemoProvider(
        "tensift",
        {
            "name": "Banque Tensift",
            "kind": "bank",
            "country": "MA",
            "regions": TENSIFT,
            "contact": "Centre d'affaires export de Marrakech\ncommerce@tensift.example",
        },
    ),
    DemoProvider(
        "deux-rives",
        {
            "name": "Crédit des Deux Rives",
            "kind": "bank",
            "country": "MA",
            "regions": [],
            "contact": "Trade finance, grandes entreprises\ntrade@deux-rives.example",
        },
    ),
    DemoProvider(
        "sebou",
        {
            "name": "Banque Sebou",
            "kind": "bank",
            "country": "MA",
            "regions": NORTH,
            "contact": "export@banque-sebou.example",
        },
    ),
    DemoProvider(
        "palmeraies",
        {
            "name": "Banque des Palmeraies",
            "kind": "bank",
            "country": "MA",
            "regions": SOUTH,
            "contact": "Agence export d'Errachidia\nexport@palmeraies.example",
        },
    ),
    DemoProvider(
        "moulouya",
        {
            "name": "Banque Moulouya",
            "kind": "bank",
            "country": "MA",
            "regions": [],
            "contact": "pme-export@moulouya.example",
        },
    ),
    DemoProvider(
        "tingis",
        {
            "name": "Tingis Factoring",
            "kind": "bank",
            "country": "MA",
            "regions": [],
            "contact": "affacturage@tingis.example",
        },
    ),
    DemoProvider(
        "estrecho",
        {
            "name": "Banco del Estrecho",
            "kind": "bank",
            "country": "ES",
            "regions": [],
            "contact": "Corresponsales Magreb\ncomex@estrecho.example",
        },
    ),
    DemoProvider(
        "fonds-garantie",
        {
            "name": "Fonds Public de Garantie des Exportations",
            "kind": "guarantor",
            "country": "MA",
            "regions": [],
            "contact": "garanties@fpge.example",
        },
    ),
    DemoProvider(
        "meridienne",
        {
            "name": "Méridienne Assurance-Crédit",
            "kind": "insurer",
            "country": "MA",
            "regions": [],
            "contact": "souscription@meridienne.example",
        },
    ),
    DemoProvider(
        "boussole",
        {
            "name": "Boussole Assurance-Crédit",
            "kind": "insurer",
            "country": "MA",
            "regions": [],
            "contact": "export@boussole.example",
        },
    ),
    DemoProvider(
        "agence-export",
        {
            "name": "Agence Nationale d'Assurance à l'Export",
            "kind": "eca",
            "country": "MA",
            "regions": [],
            "contact": "Compte de l'État\nprospection@anae.example",
        },
    ),
)


def _product(
    key: str,
    provider: str,
    instrument: str,
    name: tuple[str, str],
    description: tuple[str, str],
    *,
    currencies: tuple[str, ...] = ("MAD",),
    amount_currency: str = "MAD",
    amount: tuple[int | None, int | None] = (None, None),
    tenor: tuple[int | None, int | None] = (None, None),
    rate: float | None = None,
    fees: float | None = None,
    premium: float | None = None,
    decision_days: int | None = None,
    cover_pct: float | None = None,
    covers: tuple[str, ...] = (),
    partners: tuple[str, ...] = (),
    **eligibility: Any,
) -> DemoProduct:
    body: JsonObject = {
        "name": {"fr": name[0], "en": name[1]},
        "description": {"fr": description[0], "en": description[1]},
        "instrument": instrument,
        "currencies": list(currencies),
        "amount_currency": amount_currency,
    }
    optional: JsonObject = {
        "amount_min": None if amount[0] is None else str(amount[0]),
        "amount_max": None if amount[1] is None else str(amount[1]),
        "tenor_min_days": tenor[0],
        "tenor_max_days": tenor[1],
        "cover_pct": cover_pct,
        "decision_days": decision_days,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if eligibility:
        body["eligibility"] = eligibility
    pricing = {"indicative_rate_pct": rate, "fees_pct": fees, "premium_pct": premium}
    if any(v is not None for v in pricing.values()):
        body["pricing"] = {k: v for k, v in pricing.items() if v is not None}
    if covers:
        body["covers_instruments"] = list(covers)
    return DemoProduct(key, provider, body, partners)


PRODUCTS: tuple[DemoProduct, ...] = (
    # --- Banque de l'Arganier: a national bank of small and medium exporters, agrifood first
    _product(
        "arganier-campagne",
        "arganier",
        "pre_export_finance",
        ("Préfinancement export campagne agricole", "Crop-season pre-export loan"),
        (
            "Finance la campagne (intrants, récolte, conditionnement) des exportateurs de "
            "produits agricoles et agroalimentaires, remboursée sur les encaissements export.",
            "Funds the season (inputs, harvest, packing) of exporters of farm and food products, "
            "repaid from the export proceeds.",
        ),
        amount=(200_000, 15_000_000),
        tenor=(30, 270),
        rate=5.6,
        fees=0.5,
        decision_days=10,
        hs_chapters_include=FOOD,
        max_employees=500,
    ),
    _product(
        "arganier-afrique-garanti",
        "arganier",
        "pre_export_finance",
        ("Préfinancement Afrique garanti", "Guaranteed pre-export loan for Africa"),
        (
            "Préfinancement des commandes vers les pays de la ZLECAf, adossé à la garantie "
            "publique des exportations pour 70 % du crédit.",
            "Pre-finances orders to AfCFTA countries, backed by the public export guarantee for "
            "70% of the loan.",
        ),
        currencies=("MAD", "EUR"),
        amount=(500_000, 20_000_000),
        tenor=(60, 360),
        rate=5.2,
        fees=0.4,
        decision_days=12,
        destinations_include=["afcfta"],
        requires_guarantee=True,
    ),
    _product(
        "arganier-tpe",
        "arganier",
        "pre_export_finance",
        ("Préfinancement export TPE", "Micro-exporter pre-export loan"),
        (
            "Un premier crédit export pour les très petites entreprises, décidé en cinq jours.",
            "A first export loan for very small firms, decided within five days.",
        ),
        amount=(50_000, 1_000_000),
        tenor=(30, 180),
        rate=6.4,
        fees=1.0,
        decision_days=5,
        max_employees=49,
    ),
    _product(
        "arganier-mcne",
        "arganier",
        "receivables_discounting",
        (
            "Mobilisation de créances nées à l'étranger",
            "Discounting of foreign receivables",
        ),
        (
            "Avance jusqu'à 90 % des factures export, en dirhams ou en devises, dès l'expédition.",
            "An advance of up to 90% of export invoices, in dirhams or foreign currency, from "
            "shipment.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(100_000, 30_000_000),
        tenor=(30, 180),
        rate=5.1,
        fees=0.3,
        decision_days=5,
        payment_terms_include=["open_account", "documentary_collection", "lc"],
    ),
    _product(
        "arganier-confirmation",
        "arganier",
        "lc_confirmation",
        ("Confirmation de crédit documentaire Afrique", "LC confirmation for Africa"),
        (
            "Confirmation des crédits documentaires émis par des banques africaines (RUU 600).",
            "Confirmation of letters of credit issued by African banks (UCP 600).",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(100_000, 50_000_000),
        tenor=(1, 360),
        fees=0.9,
        decision_days=3,
        destinations_include=["afcfta"],
        payment_terms_include=["lc"],
    ),
    _product(
        "arganier-post-expedition",
        "arganier",
        "post_shipment_finance",
        ("Avance sur exportations agricoles", "Advance on farm exports"),
        (
            "Avance sur les marchandises agricoles expédiées, remboursée au paiement de "
            "l'acheteur.",
            "An advance on shipped farm goods, repaid when the buyer pays.",
        ),
        amount=(100_000, 15_000_000),
        tenor=(15, 120),
        rate=5.5,
        fees=0.4,
        decision_days=4,
        hs_chapters_include=FOOD,
    ),
    # --- Banque Tensift: a regional bank of Marrakech-Safi, Souss-Massa and the Atlas
    _product(
        "tensift-commande",
        "tensift",
        "pre_export_finance",
        ("Avance sur commande export", "Export order advance"),
        (
            "Avance sur bon de commande pour les exportateurs des régions du Sud et du Centre.",
            "An advance against a purchase order for exporters of the southern and central "
            "regions.",
        ),
        amount=(100_000, 8_000_000),
        tenor=(30, 180),
        rate=6.1,
        fees=0.75,
        decision_days=7,
        regions=TENSIFT,
    ),
    _product(
        "tensift-peche",
        "tensift",
        "pre_export_finance",
        ("Préfinancement pêche et conserves", "Fishing and canning pre-export loan"),
        (
            "Finance les campagnes de pêche, la congélation et la conserverie destinées à "
            "l'export.",
            "Funds fishing campaigns, freezing and canning for export.",
        ),
        currencies=("MAD", "EUR"),
        amount=(300_000, 25_000_000),
        tenor=(30, 240),
        rate=5.7,
        fees=0.5,
        decision_days=10,
        hs_chapters_include=FISH,
        requires_audited_accounts=True,
    ),
    _product(
        "tensift-post-expedition",
        "tensift",
        "post_shipment_finance",
        ("Avance sur marchandises expédiées", "Advance on shipped goods"),
        (
            "Avance sur connaissement ou lettre de voiture, jusqu'au paiement de l'acheteur.",
            "An advance against the bill of lading or waybill, until the buyer pays.",
        ),
        currencies=("MAD", "EUR"),
        amount=(100_000, 10_000_000),
        tenor=(15, 120),
        rate=5.9,
        fees=0.4,
        decision_days=5,
    ),
    _product(
        "tensift-remise",
        "tensift",
        "documentary_collection_finance",
        ("Financement de remises documentaires", "Documentary collection finance"),
        (
            "Avance sur documents remis à l'encaissement (RUE 522), contre paiement ou "
            "acceptation.",
            "An advance against documents sent for collection (URC 522), against payment or "
            "acceptance.",
        ),
        amount=(50_000, 5_000_000),
        tenor=(30, 120),
        rate=6.0,
        fees=0.5,
        decision_days=5,
        payment_terms_include=["documentary_collection"],
    ),
    _product(
        "tensift-cautions",
        "tensift",
        "bank_guarantee",
        ("Cautions export PME contre-garanties", "Counter-guaranteed SME export bonds"),
        (
            "Cautions de soumission et de bonne exécution pour les marchés à l'export, "
            "contre-garanties par le fonds public de garantie.",
            "Bid and performance bonds for export contracts, counter-guaranteed by the public "
            "guarantee fund.",
        ),
        currencies=("MAD", "EUR"),
        amount=(50_000, 10_000_000),
        tenor=(90, 720),
        fees=1.5,
        decision_days=7,
        requires_guarantee=True,
    ),
    _product(
        "tensift-creances-afrique",
        "tensift",
        "receivables_discounting",
        ("Mobilisation de créances Afrique garantie", "Guaranteed Africa receivables discounting"),
        (
            "Escompte des créances sur des acheteurs africains, couvertes par la garantie "
            "publique.",
            "Discounting of receivables on African buyers, covered by the public guarantee.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(100_000, 15_000_000),
        tenor=(30, 180),
        rate=5.4,
        fees=0.4,
        decision_days=7,
        destinations_include=["afcfta"],
        requires_guarantee=True,
    ),
    # --- Crédit des Deux Rives: a national bank of larger exporters
    _product(
        "deux-rives-corporate",
        "deux-rives",
        "pre_export_finance",
        ("Préfinancement grandes entreprises", "Corporate pre-export facility"),
        (
            "Ligne de préfinancement confirmée pour les exportateurs de plus de 100 millions de "
            "dirhams de chiffre d'affaires.",
            "A committed pre-export line for exporters with a turnover above 100 million dirhams.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(2_000_000, 200_000_000),
        tenor=(30, 360),
        rate=4.6,
        fees=0.25,
        decision_days=15,
        min_turnover_mad="100000000",
        requires_audited_accounts=True,
    ),
    _product(
        "deux-rives-lc",
        "deux-rives",
        "pre_export_finance",
        ("Préfinancement sur crédit documentaire", "Pre-export loan against a letter of credit"),
        (
            "Préfinancement adossé à un crédit documentaire reçu, avec des sûretés d'au moins "
            "la moitié du montant.",
            "A pre-export loan against a letter of credit received, secured for at least half "
            "the amount.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(500_000, 30_000_000),
        tenor=(30, 270),
        rate=5.0,
        fees=0.5,
        decision_days=8,
        payment_terms_include=["lc"],
        min_collateral_pct=50,
    ),
    _product(
        "deux-rives-confirmation",
        "deux-rives",
        "lc_confirmation",
        ("Confirmation de crédit documentaire", "Letter of credit confirmation"),
        (
            "Confirmation sans réserve des crédits documentaires export (RUU 600), toutes "
            "destinations.",
            "Unreserved confirmation of export letters of credit (UCP 600), every destination.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(200_000, 500_000_000),
        tenor=(1, 360),
        fees=0.6,
        decision_days=2,
        payment_terms_include=["lc"],
    ),
    _product(
        "deux-rives-forfaitage",
        "deux-rives",
        "forfaiting",
        ("Forfaitage export", "Export forfaiting"),
        (
            "Rachat sans recours d'effets avalisés à moyen terme (RUF 800).",
            "Without-recourse purchase of avalised medium-term bills (URF 800).",
        ),
        currencies=("EUR", "USD"),
        amount_currency="EUR",
        amount=(100_000, 30_000_000),
        tenor=(180, 1825),
        rate=5.4,
        fees=0.5,
        decision_days=20,
        min_turnover_mad="50000000",
    ),
    _product(
        "deux-rives-garanties",
        "deux-rives",
        "bank_guarantee",
        ("Garanties internationales", "International demand guarantees"),
        (
            "Garanties à première demande (RUGD 758) : soumission, bonne exécution, restitution "
            "d'acompte, retenue de garantie.",
            "Demand guarantees (URDG 758): bid, performance, advance payment and retention.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(500_000, 200_000_000),
        tenor=(30, 1095),
        fees=1.2,
        decision_days=10,
        min_turnover_mad="50000000",
    ),
    _product(
        "deux-rives-escompte",
        "deux-rives",
        "receivables_discounting",
        ("Escompte d'effets export", "Export bills discounting"),
        (
            "Escompte des traites acceptées par des acheteurs étrangers.",
            "Discounting of bills accepted by foreign buyers.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(500_000, 100_000_000),
        tenor=(30, 360),
        rate=4.9,
        fees=0.25,
        decision_days=5,
        min_turnover_mad="50000000",
    ),
    _product(
        "deux-rives-fournisseurs",
        "deux-rives",
        "supply_chain_finance",
        ("Paiement anticipé des fournisseurs", "Early supplier payment programme"),
        (
            "Les factures approuvées par un grand acheteur étranger sont payées par anticipation.",
            "Invoices approved by a large foreign buyer are paid early.",
        ),
        currencies=("MAD", "EUR"),
        amount=(1_000_000, 150_000_000),
        tenor=(30, 180),
        rate=3.9,
        fees=0.2,
        decision_days=12,
        min_turnover_mad="20000000",
    ),
    _product(
        "deux-rives-remise",
        "deux-rives",
        "documentary_collection_finance",
        ("Avance sur remise documentaire", "Advance on documentary collections"),
        (
            "Avance sur documents contre acceptation, jusqu'à l'échéance de la traite.",
            "An advance against documents against acceptance, until the bill falls due.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(200_000, 50_000_000),
        tenor=(30, 180),
        rate=5.2,
        fees=0.4,
        decision_days=4,
        payment_terms_include=["documentary_collection"],
    ),
    # --- Banque Sebou: a bank of the North (Fès-Meknès, Rabat-Salé-Kénitra, Tanger, Oriental)
    _product(
        "sebou-textile",
        "sebou",
        "pre_export_finance",
        ("Préfinancement textile et cuir", "Textile and leather pre-export loan"),
        (
            "Finance les commandes des confectionneurs, tanneurs et maroquiniers exportateurs.",
            "Funds the orders of exporting garment makers, tanners and leather workers.",
        ),
        currencies=("MAD", "EUR"),
        amount=(200_000, 12_000_000),
        tenor=(30, 180),
        rate=5.8,
        fees=0.6,
        decision_days=8,
        regions=NORTH,
        hs_chapters_include=LEATHER_AND_TEXTILES,
    ),
    _product(
        "sebou-industrie",
        "sebou",
        "post_shipment_finance",
        ("Crédit post-expédition industrie", "Post-shipment finance for manufacturers"),
        (
            "Avance sur les expéditions des industriels : textile, câblage, pièces automobiles.",
            "An advance on manufacturers' shipments: textiles, wiring, car parts.",
        ),
        currencies=("MAD", "EUR"),
        amount=(200_000, 20_000_000),
        tenor=(15, 150),
        rate=5.5,
        fees=0.4,
        decision_days=6,
        hs_chapters_include=MANUFACTURING,
    ),
    _product(
        "sebou-automobile",
        "sebou",
        "supply_chain_finance",
        ("Programme fournisseurs automobile", "Automotive supplier finance programme"),
        (
            "Paiement anticipé des factures approuvées par les constructeurs et équipementiers "
            "européens.",
            "Early payment of invoices approved by European carmakers and tier-one suppliers.",
        ),
        currencies=("MAD", "EUR"),
        amount=(100_000, 50_000_000),
        tenor=(30, 180),
        rate=4.2,
        fees=0.2,
        decision_days=10,
        hs_chapters_include=AUTOMOTIVE,
        destinations_include=["europe"],
    ),
    _product(
        "sebou-acompte",
        "sebou",
        "bank_guarantee",
        ("Caution de restitution d'acompte", "Advance payment guarantee"),
        (
            "Garantit à l'acheteur étranger le remboursement de l'acompte versé.",
            "Guarantees the foreign buyer the refund of the advance it paid.",
        ),
        currencies=("MAD", "EUR"),
        amount=(100_000, 20_000_000),
        tenor=(90, 540),
        fees=1.4,
        decision_days=5,
    ),
    _product(
        "sebou-affacturage",
        "sebou",
        "export_factoring",
        ("Affacturage export confection", "Apparel export factoring"),
        (
            "Cession des factures sur les donneurs d'ordre européens de la confection.",
            "Assignment of invoices on European apparel buyers.",
        ),
        currencies=("MAD", "EUR"),
        amount=(100_000, 25_000_000),
        tenor=(30, 120),
        rate=5.0,
        fees=0.9,
        decision_days=5,
        hs_chapters_include=TEXTILES,
    ),
    # --- Banque des Palmeraies: a bank of the southern regions and the Oriental
    _product(
        "palmeraies-sud",
        "palmeraies",
        "pre_export_finance",
        (
            "Préfinancement des régions du Sud et de l'Oriental",
            "Pre-export loan for the South and the Oriental",
        ),
        (
            "Un préfinancement à taux réduit pour les exportateurs installés dans les régions "
            "du Sud et de l'Oriental.",
            "A pre-export loan at a reduced rate for exporters based in the southern regions "
            "and the Oriental.",
        ),
        amount=(100_000, 10_000_000),
        tenor=(30, 270),
        rate=5.4,
        fees=0.5,
        decision_days=8,
        regions=SOUTH,
    ),
    _product(
        "palmeraies-terroir",
        "palmeraies",
        "pre_export_finance",
        ("Préfinancement dattes et produits du terroir", "Dates and local produce pre-export"),
        (
            "Pour les exportateurs de dattes, d'agrumes, d'huiles, d'épices, d'eau de rose et "
            "de produits du terroir.",
            "For exporters of dates, citrus, oils, spices, rose water and local produce.",
        ),
        amount=(50_000, 3_000_000),
        tenor=(30, 240),
        rate=5.9,
        fees=0.6,
        decision_days=6,
        hs_chapters_include=TERROIR,
    ),
    _product(
        "palmeraies-peche",
        "palmeraies",
        "receivables_discounting",
        ("Mobilisation de créances pêche", "Fishing receivables discounting"),
        (
            "Avance sur les factures des armateurs et conserveurs exportateurs.",
            "An advance on the invoices of exporting ship owners and canners.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(200_000, 40_000_000),
        tenor=(30, 150),
        rate=5.3,
        fees=0.3,
        decision_days=4,
        hs_chapters_include=FISH,
    ),
    _product(
        "palmeraies-remise",
        "palmeraies",
        "documentary_collection_finance",
        ("Remise documentaire Afrique de l'Ouest", "West Africa documentary collections"),
        (
            "Avance sur les remises documentaires vers les pays de la CEDEAO.",
            "An advance on documentary collections to ECOWAS countries.",
        ),
        currencies=("MAD", "EUR", "XOF"),
        amount=(50_000, 8_000_000),
        tenor=(30, 180),
        rate=6.2,
        fees=0.6,
        decision_days=6,
        destinations_include=["ecowas"],
    ),
    _product(
        "palmeraies-confirmation",
        "palmeraies",
        "lc_confirmation",
        (
            "Confirmation de LC Sahel et Afrique de l'Ouest",
            "LC confirmation, Sahel and West Africa",
        ),
        (
            "Confirmation des crédits documentaires ouverts en Mauritanie et dans la CEDEAO.",
            "Confirmation of letters of credit opened in Mauritania and ECOWAS countries.",
        ),
        currencies=("MAD", "EUR", "USD", "XOF"),
        amount=(50_000, 20_000_000),
        tenor=(1, 270),
        fees=1.2,
        decision_days=4,
        destinations_include=["ecowas", "MR"],
        payment_terms_include=["lc"],
    ),
    # --- Banque Moulouya: a national bank of small and medium firms
    _product(
        "moulouya-europe",
        "moulouya",
        "pre_export_finance",
        ("Préfinancement export PME Europe", "SME pre-export loan for Europe"),
        (
            "Pour les PME qui exportent vers l'Europe depuis au moins trois ans.",
            "For SMEs exporting to Europe for three years or more.",
        ),
        currencies=("MAD", "EUR"),
        amount=(100_000, 10_000_000),
        tenor=(30, 270),
        rate=5.5,
        fees=0.5,
        decision_days=7,
        destinations_include=["europe"],
        max_employees=249,
        min_years_exporting=3,
    ),
    _product(
        "moulouya-factures",
        "moulouya",
        "receivables_discounting",
        ("Avance sur factures export", "Export invoice advance"),
        (
            "Avance de 80 % des factures export des PME, en trois jours.",
            "An advance of 80% of SMEs' export invoices, within three days.",
        ),
        currencies=("MAD", "EUR"),
        amount=(50_000, 8_000_000),
        tenor=(15, 120),
        rate=5.7,
        fees=0.4,
        decision_days=3,
        max_employees=249,
        payment_terms_include=["open_account", "documentary_collection"],
    ),
    _product(
        "moulouya-post-expedition",
        "moulouya",
        "post_shipment_finance",
        ("Crédit post-expédition PME", "SME post-shipment loan"),
        (
            "Finance la période entre l'expédition et le paiement de l'acheteur étranger.",
            "Funds the time between shipment and the foreign buyer's payment.",
        ),
        currencies=("MAD", "EUR"),
        amount=(50_000, 5_000_000),
        tenor=(15, 180),
        rate=6.0,
        fees=0.5,
        decision_days=5,
        max_turnover_mad="250000000",
    ),
    _product(
        "moulouya-confirmation",
        "moulouya",
        "lc_confirmation",
        ("Confirmation de LC pour PME", "LC confirmation for SMEs"),
        (
            "Confirmation des crédits documentaires reçus par les PME, toutes destinations.",
            "Confirmation of letters of credit received by SMEs, every destination.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(50_000, 15_000_000),
        tenor=(1, 180),
        fees=1.0,
        decision_days=3,
        payment_terms_include=["lc"],
        max_employees=249,
    ),
    _product(
        "moulouya-assure",
        "moulouya",
        "pre_export_finance",
        ("Préfinancement export assuré", "Insured pre-export loan"),
        (
            "Préfinancement accordé contre la délégation d'une police d'assurance-crédit "
            "couvrant l'acheteur.",
            "A pre-export loan granted against the assignment of a credit insurance policy on "
            "the buyer.",
        ),
        currencies=("MAD", "EUR"),
        amount=(200_000, 15_000_000),
        tenor=(30, 270),
        rate=5.0,
        fees=0.4,
        decision_days=9,
        requires_insurance=True,
    ),
    _product(
        "moulouya-cautions",
        "moulouya",
        "bank_guarantee",
        ("Caution export PME", "SME export bond"),
        (
            "Cautions de bonne exécution et de retenue de garantie pour les PME exportatrices.",
            "Performance and retention bonds for exporting SMEs.",
        ),
        amount=(20_000, 5_000_000),
        tenor=(90, 540),
        fees=1.0,
        decision_days=6,
        max_employees=249,
        min_collateral_pct=20,
    ),
    # --- Tingis Factoring: a national factoring house
    _product(
        "tingis-export",
        "tingis",
        "export_factoring",
        ("Affacturage export", "Export factoring"),
        (
            "Achat des créances export avec recouvrement et garantie de paiement (GRIF).",
            "Purchase of export receivables with collection and payment cover (GRIF).",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(100_000, 50_000_000),
        tenor=(30, 180),
        rate=5.3,
        fees=1.1,
        decision_days=7,
        payment_terms_include=["open_account", "documentary_collection"],
    ),
    _product(
        "tingis-pme-assure",
        "tingis",
        "export_factoring",
        ("Affacturage export PME assuré", "Insured SME export factoring"),
        (
            "Affacturage des PME dont les acheteurs sont couverts par une assurance-crédit.",
            "Factoring for SMEs whose buyers are covered by credit insurance.",
        ),
        currencies=("MAD", "EUR"),
        amount=(50_000, 10_000_000),
        tenor=(30, 150),
        rate=5.8,
        fees=1.0,
        decision_days=5,
        max_employees=249,
        requires_insurance=True,
    ),
    _product(
        "tingis-donneurs-ordre",
        "tingis",
        "supply_chain_finance",
        ("Financement fournisseurs grands donneurs d'ordre", "Supplier finance for large buyers"),
        (
            "Les fournisseurs des grandes enseignes européennes sont payés dès l'approbation "
            "de leurs factures.",
            "Suppliers of large European retailers are paid as soon as their invoices are "
            "approved.",
        ),
        currencies=("MAD", "EUR"),
        amount=(200_000, 80_000_000),
        tenor=(30, 120),
        rate=4.0,
        fees=0.25,
        decision_days=10,
        destinations_include=["europe"],
    ),
    _product(
        "tingis-ponctuel",
        "tingis",
        "receivables_discounting",
        ("Affacturage ponctuel", "Single-invoice discounting"),
        (
            "Une facture export financée à la fois, sans engagement de volume.",
            "One export invoice financed at a time, with no volume commitment.",
        ),
        currencies=("MAD", "EUR"),
        amount=(20_000, 2_000_000),
        tenor=(15, 90),
        rate=6.5,
        fees=1.2,
        decision_days=2,
    ),
    # --- Banco del Estrecho: a Spanish correspondent bank
    _product(
        "estrecho-confirmation",
        "estrecho",
        "lc_confirmation",
        ("Confirmation de crédits documentaires depuis l'Espagne", "LC confirmation from Spain"),
        (
            "Confirmation, par une banque européenne, des crédits documentaires reçus par les "
            "exportateurs marocains.",
            "Confirmation, by a European bank, of letters of credit received by Moroccan "
            "exporters.",
        ),
        currencies=("EUR", "USD"),
        amount_currency="EUR",
        amount=(10_000, 30_000_000),
        tenor=(1, 360),
        fees=0.7,
        decision_days=3,
        payment_terms_include=["lc"],
    ),
    _product(
        "estrecho-forfaitage",
        "estrecho",
        "forfaiting",
        ("Forfaitage de créances avalisées", "Forfaiting of avalised receivables"),
        (
            "Rachat à forfait de créances à moyen terme avalisées par la banque de l'acheteur.",
            "Forfaiting of medium-term receivables avalised by the buyer's bank.",
        ),
        currencies=("EUR", "USD"),
        amount_currency="EUR",
        amount=(50_000, 100_000_000),
        tenor=(180, 1800),
        rate=5.0,
        fees=0.6,
        decision_days=15,
    ),
    _product(
        "estrecho-remise",
        "estrecho",
        "documentary_collection_finance",
        ("Remises documentaires vers l'Europe", "Documentary collections to Europe"),
        (
            "Avance sur les remises documentaires présentées à des acheteurs européens.",
            "An advance on documentary collections presented to European buyers.",
        ),
        currencies=("EUR",),
        amount_currency="EUR",
        amount=(5_000, 10_000_000),
        tenor=(30, 180),
        rate=4.8,
        fees=0.5,
        decision_days=5,
        destinations_include=["europe"],
    ),
    _product(
        "estrecho-affacturage",
        "estrecho",
        "export_factoring",
        ("Affacturage à deux facteurs Espagne-Portugal", "Two-factor factoring, Spain-Portugal"),
        (
            "Affacturage export sur les acheteurs espagnols et portugais, avec un facteur "
            "correspondant.",
            "Export factoring on Spanish and Portuguese buyers, with a correspondent factor.",
        ),
        currencies=("EUR",),
        amount_currency="EUR",
        amount=(5_000, 20_000_000),
        tenor=(30, 150),
        rate=4.6,
        fees=0.9,
        decision_days=6,
        destinations_include=["ES", "PT"],
    ),
    # --- The public guarantee fund: guarantees the banks bundle with their loans
    _product(
        "garantie-prefinancement",
        "fonds-garantie",
        "export_credit_guarantee",
        ("Garantie du préfinancement export", "Pre-export finance guarantee"),
        (
            "Couvre 70 % des crédits de préfinancement et post-expédition accordés par les "
            "banques partenaires aux PME exportatrices.",
            "Covers 70% of the pre-export and post-shipment loans that partner banks grant to "
            "exporting SMEs.",
        ),
        currencies=("MAD", "EUR"),
        amount=(None, 20_000_000),
        premium=1.0,
        decision_days=15,
        cover_pct=70,
        covers=("pre_export_finance", "post_shipment_finance"),
        partners=("arganier", "tensift", "palmeraies", "moulouya", "sebou"),
        max_turnover_mad="500000000",
    ),
    _product(
        "garantie-creances-afrique",
        "fonds-garantie",
        "export_credit_guarantee",
        ("Garantie des créances export Afrique", "Africa export receivables guarantee"),
        (
            "Couvre 60 % des créances mobilisées sur des acheteurs des pays de la ZLECAf, quelle "
            "que soit la banque.",
            "Covers 60% of receivables financed on buyers in AfCFTA countries, whatever the bank.",
        ),
        currencies=("MAD", "EUR", "USD"),
        premium=0.8,
        decision_days=10,
        cover_pct=60,
        covers=("receivables_discounting", "documentary_collection_finance", "export_factoring"),
        destinations_include=["afcfta"],
    ),
    _product(
        "garantie-cautions",
        "fonds-garantie",
        "export_credit_guarantee",
        ("Contre-garantie des cautions export", "Export bond counter-guarantee"),
        (
            "Contre-garantit 50 % des cautions émises par les banques pour les marchés export "
            "des PME.",
            "Counter-guarantees 50% of the bonds banks issue for SMEs' export contracts.",
        ),
        currencies=("MAD", "EUR"),
        premium=0.6,
        decision_days=10,
        cover_pct=50,
        covers=("bank_guarantee",),
        max_turnover_mad="500000000",
    ),
    _product(
        "garantie-demarrage",
        "fonds-garantie",
        "export_credit_guarantee",
        ("Garantie de démarrage export TPE", "Export start-up guarantee for micro firms"),
        (
            "Couvre 80 % du premier préfinancement export d'une très petite entreprise.",
            "Covers 80% of a very small firm's first pre-export loan.",
        ),
        amount=(None, 2_000_000),
        premium=1.5,
        decision_days=10,
        cover_pct=80,
        covers=("pre_export_finance",),
        max_employees=49,
    ),
    # --- Méridienne Assurance-Crédit: a credit insurer
    _product(
        "meridienne-globale",
        "meridienne",
        "export_credit_insurance",
        ("Assurance-crédit export globale", "Whole-turnover export credit insurance"),
        (
            "Couvre 90 % des impayés de l'ensemble des acheteurs étrangers, pour les "
            "exportateurs de plus de 5 millions de dirhams à l'export.",
            "Covers 90% of unpaid invoices on every foreign buyer, for exporters with more than "
            "5 million dirhams of exports.",
        ),
        currencies=("MAD", "EUR", "USD"),
        tenor=(None, 180),
        premium=0.35,
        decision_days=10,
        cover_pct=90,
        min_export_turnover_mad="5000000",
    ),
    _product(
        "meridienne-acheteur",
        "meridienne",
        "export_credit_insurance",
        ("Assurance-crédit acheteur unique", "Single-buyer credit insurance"),
        (
            "Couvre un contrat ou un acheteur désigné contre l'impayé commercial et politique.",
            "Covers one named contract or buyer against commercial and political non-payment.",
        ),
        currencies=("MAD", "EUR", "USD"),
        amount=(100_000, 50_000_000),
        tenor=(None, 360),
        premium=0.6,
        decision_days=7,
        cover_pct=85,
    ),
    _product(
        "meridienne-afrique",
        "meridienne",
        "export_credit_insurance",
        ("Assurance-crédit PME Afrique", "SME credit insurance for Africa"),
        (
            "Couvre 80 % des ventes des PME vers les pays de la ZLECAf.",
            "Covers 80% of SMEs' sales to AfCFTA countries.",
        ),
        currencies=("MAD", "EUR", "USD", "XOF"),
        tenor=(None, 270),
        premium=0.7,
        decision_days=7,
        cover_pct=80,
        destinations_include=["afcfta"],
        max_employees=249,
    ),
    _product(
        "meridienne-engrais",
        "meridienne",
        "export_credit_insurance",
        ("Assurance-crédit engrais et minerais", "Fertiliser and minerals credit insurance"),
        (
            "Couvre les ventes d'engrais, d'acide phosphorique et de minerais aux acheteurs "
            "étrangers.",
            "Covers sales of fertilisers, phosphoric acid and minerals to foreign buyers.",
        ),
        currencies=("MAD", "EUR", "USD"),
        tenor=(None, 360),
        premium=0.5,
        decision_days=10,
        cover_pct=90,
        hs_chapters_include=MINERALS,
        min_turnover_mad="50000000",
    ),
    # --- Boussole Assurance-Crédit: a credit insurer
    _product(
        "boussole-europe",
        "boussole",
        "export_credit_insurance",
        ("Police export Europe", "Europe export policy"),
        (
            "Couvre 90 % des impayés sur les acheteurs européens, prime forfaitaire.",
            "Covers 90% of unpaid invoices on European buyers, for a flat premium.",
        ),
        currencies=("MAD", "EUR"),
        tenor=(None, 150),
        premium=0.25,
        decision_days=5,
        cover_pct=90,
        destinations_include=["europe"],
    ),
    _product(
        "boussole-textile",
        "boussole",
        "export_credit_insurance",
        ("Assurance-crédit textile et habillement", "Textile and apparel credit insurance"),
        (
            "Couvre les ventes des confectionneurs à leurs donneurs d'ordre étrangers.",
            "Covers garment makers' sales to their foreign buyers.",
        ),
        currencies=("MAD", "EUR"),
        tenor=(None, 180),
        premium=0.4,
        decision_days=5,
        cover_pct=85,
        hs_chapters_include=TEXTILES,
    ),
    _product(
        "boussole-mer",
        "boussole",
        "export_credit_insurance",
        ("Assurance-crédit produits de la mer", "Seafood credit insurance"),
        (
            "Couvre les ventes de poisson, de céphalopodes et de conserves aux acheteurs "
            "étrangers.",
            "Covers sales of fish, cephalopods and canned fish to foreign buyers.",
        ),
        currencies=("MAD", "EUR", "USD"),
        tenor=(None, 180),
        premium=0.45,
        decision_days=6,
        cover_pct=85,
        hs_chapters_include=FISH,
    ),
    _product(
        "boussole-salons",
        "boussole",
        "prospection_insurance",
        ("Assurance prospection salons et missions", "Trade fair and mission prospection cover"),
        (
            "Rembourse 60 % des dépenses de salons et de missions si les ventes ne suivent pas.",
            "Refunds 60% of trade fair and mission costs if the sales do not follow.",
        ),
        amount=(20_000, 1_000_000),
        tenor=(365, 730),
        premium=2.0,
        decision_days=20,
        cover_pct=60,
        max_turnover_mad="50000000",
    ),
    # --- The export-credit agency: the risks the market does not cover, and prospection
    _product(
        "agence-risques",
        "agence-export",
        "export_credit_insurance",
        (
            "Assurance des risques politiques et commerciaux (compte de l'État)",
            "Political and commercial risk insurance (state account)",
        ),
        (
            "Couvre 95 % des risques non cessibles au marché : pays hors Union européenne, "
            "crédits jusqu'à cinq ans.",
            "Covers 95% of the risks the market does not take: countries outside the European "
            "Union, credits up to five years.",
        ),
        currencies=("MAD", "EUR", "USD"),
        tenor=(None, 1825),
        premium=1.2,
        decision_days=30,
        cover_pct=95,
        destinations_exclude=["eu"],
    ),
    _product(
        "agence-premier-export",
        "agence-export",
        "prospection_insurance",
        ("Assurance prospection premier export", "First-export prospection insurance"),
        (
            "Couvre 70 % du budget de prospection d'un nouveau marché hors Union européenne.",
            "Covers 70% of the budget for prospecting a new market outside the European Union.",
        ),
        amount=(20_000, 2_000_000),
        tenor=(365, 1095),
        premium=1.5,
        decision_days=30,
        cover_pct=70,
        destinations_exclude=["eu"],
        max_turnover_mad="30000000",
    ),
    _product(
        "agence-prospection-afrique",
        "agence-export",
        "prospection_insurance",
        ("Assurance prospection Afrique", "Africa prospection insurance"),
        (
            "Couvre 80 % des dépenses de prospection des marchés de la ZLECAf.",
            "Covers 80% of the costs of prospecting AfCFTA markets.",
        ),
        amount=(50_000, 3_000_000),
        tenor=(365, 1095),
        premium=1.2,
        decision_days=25,
        cover_pct=80,
        destinations_include=["afcfta"],
    ),
    _product(
        "agence-moyen-terme",
        "agence-export",
        "export_credit_guarantee",
        ("Garantie des crédits export à moyen terme", "Medium-term export credit guarantee"),
        (
            "Couvre 90 % des créances forfaitées et des confirmations à plus de six mois.",
            "Covers 90% of forfaited receivables and of confirmations beyond six months.",
        ),
        currencies=("MAD", "EUR", "USD"),
        premium=1.8,
        decision_days=30,
        cover_pct=90,
        covers=("forfaiting", "lc_confirmation"),
    ),
)


def provider(key: str) -> DemoProvider:
    return next(p for p in PROVIDERS if p.key == key)


__all__ = ["PRODUCTS", "PROVIDERS", "DemoProduct", "DemoProvider", "JsonObject", "provider"]
