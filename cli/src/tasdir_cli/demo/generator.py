"""The demo data set, generated from a fixed seed: plain data, the same bytes for the same seed.

`generate(seed)` draws, with one `random.Random(seed)` and nothing else (no clock, no uuid, no
set iteration):

- about 200 exporters over the 12 regions and six export sectors (agrifood, fishing, textiles,
  automotive parts, phosphates and fertilisers, handicrafts), with sizes, turnovers and export
  markets typical of each; many of them are mono-market firms that sell 80 % or more of their
  exports to one European market;
- about 300 financing requests of theirs, each with a *story*: how far the deal flow takes it
  when the data set is seeded (matched only, opened or reviewed by the region's advisor,
  referred to the providers, answered with a question, an offer, a decline, accepted...);
- the catalogue of `tasdir_cli.demo.catalogue` (fixed), and the guided walkthrough's exporter
  and request (fixed too).

Nothing here calls an API: `tasdir_cli.demo.seeder` applies the data set through the public
APIs. Amounts are decimal strings, as the APIs take them.
"""

from __future__ import annotations

import itertools
import json
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from tasdir.reference import fx_table, regions

from tasdir_cli.demo.catalogue import PRODUCTS, PROVIDERS, DemoProduct, DemoProvider, JsonObject

DEFAULT_SEED = 212
EXPORTER_COUNT = 200
REQUEST_COUNT = 300
T = TypeVar("T")

# How far the deal flow takes a request, in order; each story includes the steps before it on
# its branch (see `STORY_STEPS`).
STORIES: dict[str, int] = {
    "matched": 44,  # matched, nobody has opened it yet
    "in_review": 8,  # the region's advisor opened it
    "rejected": 5,  # the advisor rejected it, with a note
    "withdrawn": 2,  # the exporter withdrew it
    "referred": 7,  # the advisor approved matches; the referrals wait for an answer
    "interested": 6,  # the provider said it is interested
    "question": 5,  # the provider asked a question
    "answered": 4,  # ...and the exporter consented and answered it
    "offer": 6,  # ...and the provider made an offer
    "accepted": 6,  # ...and the exporter accepted it: the request is closed
    "offer_declined": 3,  # ...and the exporter declined it
    "declined": 4,  # the provider declined every referral, with a reason
}
#: The stories in which the advisor approves matches.
REFERRED = frozenset(STORIES) - {"matched", "in_review", "rejected", "withdrawn"}

SIZE_BANDS: dict[str, tuple[int, int]] = {
    "micro": (2, 9),
    "small": (10, 49),
    "medium": (50, 249),
    "large": (250, 2400),
}
EU_MARKETS = ("FR", "ES", "NL", "DE", "IT", "BE", "PT", "SK", "RO")
NEW_AFRICAN_MARKETS = (
    "SN",
    "CI",
    "NG",
    "GH",
    "CM",
    "KE",
    "EG",
    "MR",
    "ML",
    "TN",
    "GA",
    "BF",
    "GN",
    "TG",
)


@dataclass(frozen=True)
class Sector:
    """How the exporters of one sector look: their products (HS codes), where they are, whom
    they sell to, how big they are and what they ask for."""

    label: str
    count: int
    products: tuple[str, ...]
    regions: dict[str, int]
    markets: dict[str, int]
    mono_market_pct: int
    sizes: dict[str, int]
    turnover_per_employee: tuple[int, int]
    export_share_pct: tuple[int, int]
    instruments: dict[str, int]
    stems: tuple[str, ...]
    usd_pct: int = 0


SECTORS: dict[str, Sector] = {
    "agrifood": Sector(
        label="Agrifood",
        count=60,
        products=("0805", "0702", "0810", "1509", "2005", "0804", "0709", "0807", "1515", "0910"),
        regions={
            "souss-massa": 6,
            "oriental": 2,
            "rabat-sale-kenitra": 2,
            "fes-meknes": 2,
            "beni-mellal-khenifra": 2,
            "marrakech-safi": 2,
            "draa-tafilalet": 2,
            "dakhla-oued-ed-dahab": 1,
            "casablanca-settat": 1,
            "tanger-tetouan-al-hoceima": 1,
        },
        markets={
            "FR": 6,
            "ES": 3,
            "NL": 3,
            "DE": 2,
            "GB": 2,
            "IT": 1,
            "BE": 1,
            "RU": 1,
            "CA": 1,
            "US": 1,
            "SA": 1,
            "AE": 1,
            "SN": 1,
            "CI": 1,
            "MR": 1,
        },
        mono_market_pct=40,
        sizes={"micro": 15, "small": 35, "medium": 35, "large": 15},
        turnover_per_employee=(300_000, 900_000),
        export_share_pct=(50, 95),
        instruments={
            "pre_export_finance": 35,
            "receivables_discounting": 15,
            "post_shipment_finance": 10,
            "export_credit_insurance": 12,
            "lc_confirmation": 10,
            "export_factoring": 5,
            "documentary_collection_finance": 5,
            "prospection_insurance": 5,
            "supply_chain_finance": 3,
        },
        stems=("Agrumes", "Primeurs", "Vergers", "Domaine", "Huilerie", "Fruits", "Maraîchers"),
    ),
    "fishing": Sector(
        label="Fishing and seafood",
        count=35,
        products=("1604", "0307", "0303", "2301", "0306"),
        regions={
            "dakhla-oued-ed-dahab": 4,
            "laayoune-sakia-el-hamra": 3,
            "souss-massa": 3,
            "guelmim-oued-noun": 2,
            "marrakech-safi": 2,
            "tanger-tetouan-al-hoceima": 1,
            "oriental": 1,
        },
        markets={
            "ES": 5,
            "IT": 3,
            "PT": 2,
            "FR": 2,
            "JP": 2,
            "CI": 1,
            "NG": 1,
            "CM": 1,
            "GH": 1,
        },
        mono_market_pct=35,
        sizes={"micro": 10, "small": 35, "medium": 40, "large": 15},
        turnover_per_employee=(400_000, 1_200_000),
        export_share_pct=(60, 98),
        instruments={
            "pre_export_finance": 35,
            "receivables_discounting": 15,
            "export_credit_insurance": 15,
            "lc_confirmation": 10,
            "documentary_collection_finance": 10,
            "post_shipment_finance": 10,
            "prospection_insurance": 5,
        },
        stems=("Pêcheries", "Conserverie", "Armement", "Océan", "Sardinerie", "Marée"),
        usd_pct=10,
    ),
    "textiles": Sector(
        label="Textiles and apparel",
        count=35,
        products=("6109", "6203", "6204", "6206", "6302", "6403"),
        regions={
            "tanger-tetouan-al-hoceima": 4,
            "casablanca-settat": 4,
            "fes-meknes": 2,
            "rabat-sale-kenitra": 2,
            "marrakech-safi": 1,
        },
        markets={
            "ES": 6,
            "FR": 4,
            "PT": 2,
            "GB": 2,
            "IT": 1,
            "DE": 1,
            "NL": 1,
            "BE": 1,
            "US": 1,
        },
        mono_market_pct=60,
        sizes={"micro": 5, "small": 30, "medium": 45, "large": 20},
        turnover_per_employee=(150_000, 400_000),
        export_share_pct=(85, 100),
        instruments={
            "export_factoring": 20,
            "receivables_discounting": 20,
            "pre_export_finance": 15,
            "post_shipment_finance": 10,
            "supply_chain_finance": 10,
            "export_credit_insurance": 10,
            "bank_guarantee": 5,
            "lc_confirmation": 5,
            "prospection_insurance": 5,
        },
        stems=("Confection", "Textiles", "Tissages", "Denim", "Bonneterie", "Chaussures"),
    ),
    "automotive_parts": Sector(
        label="Automotive parts",
        count=25,
        products=("8544", "8708", "9401", "8512", "4016"),
        regions={
            "tanger-tetouan-al-hoceima": 5,
            "rabat-sale-kenitra": 4,
            "casablanca-settat": 3,
            "fes-meknes": 1,
        },
        markets={"ES": 5, "FR": 4, "DE": 2, "PT": 1, "IT": 1, "SK": 1, "RO": 1, "TR": 1},
        mono_market_pct=55,
        sizes={"small": 15, "medium": 45, "large": 40},
        turnover_per_employee=(400_000, 1_100_000),
        export_share_pct=(90, 100),
        instruments={
            "supply_chain_finance": 25,
            "export_factoring": 15,
            "receivables_discounting": 15,
            "bank_guarantee": 15,
            "pre_export_finance": 10,
            "post_shipment_finance": 10,
            "export_credit_insurance": 5,
            "lc_confirmation": 5,
        },
        stems=("Câblage", "Équipements", "Composants", "Sièges", "Industries", "Mécanique"),
    ),
    "phosphates_fertilisers": Sector(
        label="Phosphates and fertilisers",
        count=14,
        products=("3103", "3105", "2809", "2510"),
        regions={
            "casablanca-settat": 3,
            "marrakech-safi": 3,
            "beni-mellal-khenifra": 3,
            "laayoune-sakia-el-hamra": 2,
        },
        markets={
            "IN": 2,
            "BR": 2,
            "ET": 2,
            "NG": 2,
            "US": 1,
            "FR": 1,
            "ES": 1,
            "CI": 1,
            "KE": 1,
            "BD": 1,
            "AR": 1,
        },
        mono_market_pct=10,
        sizes={"small": 20, "medium": 40, "large": 40},
        turnover_per_employee=(1_500_000, 5_000_000),
        export_share_pct=(40, 95),
        instruments={
            "lc_confirmation": 25,
            "forfaiting": 15,
            "documentary_collection_finance": 15,
            "export_credit_insurance": 15,
            "bank_guarantee": 10,
            "receivables_discounting": 10,
            "pre_export_finance": 10,
        },
        stems=("Engrais", "Fertilisants", "Phosphates", "Chimie", "Minéraux", "Agronutrition"),
        usd_pct=50,
    ),
    "handicrafts": Sector(
        label="Handicrafts",
        count=30,
        products=("5701", "6912", "6913", "4202", "9405", "4420"),
        regions={
            "marrakech-safi": 4,
            "fes-meknes": 4,
            "draa-tafilalet": 2,
            "rabat-sale-kenitra": 2,
            "beni-mellal-khenifra": 1,
            "guelmim-oued-noun": 1,
            "oriental": 1,
        },
        markets={
            "FR": 5,
            "US": 3,
            "ES": 2,
            "DE": 2,
            "GB": 2,
            "NL": 1,
            "BE": 1,
            "IT": 1,
            "JP": 1,
            "AE": 1,
        },
        mono_market_pct=35,
        sizes={"micro": 45, "small": 40, "medium": 15},
        turnover_per_employee=(80_000, 250_000),
        export_share_pct=(40, 95),
        instruments={
            "prospection_insurance": 25,
            "pre_export_finance": 25,
            "documentary_collection_finance": 15,
            "receivables_discounting": 15,
            "export_credit_insurance": 10,
            "lc_confirmation": 5,
            "post_shipment_finance": 5,
        },
        stems=("Tapis", "Poterie", "Céramiques", "Maroquinerie", "Dinanderie", "Ateliers"),
    ),
}

WORDS = (
    "Tafoukt",
    "Anzar",
    "Tiziri",
    "Assif",
    "Adrar",
    "Izorane",
    "Tilila",
    "Amane",
    "Nakhil",
    "Zitoune",
    "Warda",
    "Tanirt",
    "Afoulki",
    "Tamount",
    "Azrou",
    "Ifri",
    "Tasmut",
    "Agdal",
    "Nour",
    "Yasmine",
    "Baraka",
    "Safran",
    "Ilham",
    "Tamesna",
)
PLACES: dict[str, tuple[str, ...]] = {
    "tanger-tetouan-al-hoceima": ("du Détroit", "du Loukkos", "du Rif", "de Tanger", "de Tétouan"),
    "oriental": ("de la Moulouya", "de Berkane", "de l'Oriental", "de Nador"),
    "fes-meknes": ("du Saïss", "de Fès", "de Meknès", "du Moyen Atlas"),
    "rabat-sale-kenitra": ("du Gharb", "de Salé", "de Kénitra", "du Bouregreg"),
    "beni-mellal-khenifra": ("du Tadla", "de Khouribga", "de Béni Mellal", "de Khénifra"),
    "casablanca-settat": ("de la Chaouia", "de Settat", "d'Anfa", "des Doukkala"),
    "marrakech-safi": ("du Haouz", "de Safi", "de Marrakech", "d'Essaouira"),
    "draa-tafilalet": ("du Tafilalet", "du Drâa", "de Zagora", "du Dadès"),
    "souss-massa": ("du Souss", "de Chtouka", "de Taroudant", "de Massa"),
    "guelmim-oued-noun": ("de l'Oued Noun", "de Tan-Tan", "de Guelmim", "de Sidi Ifni"),
    "laayoune-sakia-el-hamra": ("de la Sakia", "de Laâyoune", "de Tarfaya", "de Boujdour"),
    "dakhla-oued-ed-dahab": ("de Dakhla", "de l'Oued Eddahab", "de la Lagune", "d'Aousserd"),
}
BUYER_STEMS = ("Alizé", "Baobab", "Horizon", "Sirocco", "Étoile", "Delta", "Méridien", "Cap")
BUYER_KINDS = ("Import", "Distribution", "Trading", "Négoce", "Retail", "Foods", "Supply")

TENORS: dict[str, tuple[int, ...]] = {
    "pre_export_finance": (60, 90, 120, 150, 180, 240, 270),
    "post_shipment_finance": (30, 60, 90, 120),
    "receivables_discounting": (30, 60, 90, 120, 150, 180),
    "export_factoring": (60, 90, 120),
    "forfaiting": (360, 540, 720, 1080, 1440, 1800),
    "documentary_collection_finance": (30, 60, 90, 120),
    "supply_chain_finance": (60, 90, 120),
    "lc_confirmation": (30, 60, 90, 120, 180),
    "bank_guarantee": (180, 270, 365, 540, 720),
    "export_credit_insurance": (90, 120, 180, 270, 360),
    "prospection_insurance": (365, 540, 730),
}
# The amount asked, as a share of the exporter's export turnover.
AMOUNT_SHARE: dict[str, tuple[float, float]] = {
    "pre_export_finance": (0.08, 0.3),
    "post_shipment_finance": (0.05, 0.2),
    "receivables_discounting": (0.05, 0.25),
    "export_factoring": (0.1, 0.3),
    "forfaiting": (0.1, 0.4),
    "documentary_collection_finance": (0.03, 0.15),
    "supply_chain_finance": (0.1, 0.3),
    "lc_confirmation": (0.05, 0.3),
    "bank_guarantee": (0.02, 0.1),
    "export_credit_insurance": (0.2, 0.6),
    "prospection_insurance": (0.01, 0.05),
}
# The most one request asks for (in MAD): a contract, a season or a batch of invoices, not a
# whole year of exports.
AMOUNT_CAP: dict[str, int] = {
    "pre_export_finance": 40_000_000,
    "post_shipment_finance": 15_000_000,
    "receivables_discounting": 40_000_000,
    "export_factoring": 30_000_000,
    "forfaiting": 80_000_000,
    "documentary_collection_finance": 20_000_000,
    "supply_chain_finance": 50_000_000,
    "lc_confirmation": 100_000_000,
    "bank_guarantee": 30_000_000,
    "export_credit_insurance": 40_000_000,
    "prospection_insurance": 2_500_000,
}
FAMILY_OF = {
    "pre_export_finance": "pre_shipment",
    "post_shipment_finance": "post_shipment",
    "receivables_discounting": "post_shipment",
    "export_factoring": "post_shipment",
    "documentary_collection_finance": "post_shipment",
    "lc_confirmation": "payment_security",
    "export_credit_insurance": "risk_cover",
}

QUESTIONS = (
    (
        "Merci de nous transmettre les états financiers audités des deux derniers exercices.",
        "Nos états financiers 2024 et 2025, certifiés, vous ont été adressés ce jour.",
    ),
    (
        "Pouvez-vous nous adresser le contrat ou le bon de commande de l'acheteur ?",
        "Le bon de commande signé par l'acheteur est joint à notre dossier.",
    ),
    (
        "Quelles sûretés pouvez-vous apporter en garantie du crédit ?",
        "Nous proposons le nantissement du stock et la délégation de l'assurance-crédit.",
    ),
    (
        "Merci de préciser le calendrier des expéditions et les conditions de paiement.",
        "Trois expéditions mensuelles à partir du mois prochain, paiement à 90 jours.",
    ),
    (
        "L'acheteur est-il déjà couvert par une assurance-crédit ?",
        "Oui, l'acheteur est agréé par notre assureur-crédit pour la totalité du montant.",
    ),
    (
        "Pouvez-vous nous communiquer la copie du crédit documentaire reçu ?",
        "La copie du crédit documentaire notifié par notre banque vous est transmise.",
    ),
)
REJECTION_NOTES = (
    "Le montant demandé dépasse la capacité de remboursement au vu du chiffre d'affaires "
    "export ; merci de revoir la demande.",
    "Dossier incomplet : merci de compléter le profil (comptes audités, sûretés) avant une "
    "nouvelle demande.",
    "Les produits proposés ne conviennent pas en l'état ; un rendez-vous à la délégation "
    "régionale permettra de reformuler le besoin.",
    "La destination demandée est soumise à des restrictions ; reprendre contact avec la "
    "délégation régionale.",
)
APPROVAL_NOTES = (
    "Exportateur suivi par la délégation régionale ; dossier complet.",
    "Premier export vers ce marché : accompagnement recommandé.",
    None,
    None,
)
DECLINES = (
    ("outside_risk_appetite", "Le risque pays excède notre appétit actuel."),
    ("insufficient_collateral", "Les sûretés proposées ne couvrent pas le montant demandé."),
    ("incomplete_file", "Le dossier ne comporte pas les comptes des deux derniers exercices."),
    ("amount_out_of_range", "Le montant dépasse notre plafond pour ce produit."),
    ("capacity", "Notre enveloppe pour ce produit est épuisée pour le trimestre."),
    ("credit_history", "Des incidents de paiement récents nous empêchent de donner suite."),
)
OFFER_CONDITIONS = (
    "Domiciliation des encaissements export à nos guichets.",
    "Nantissement du stock et délégation de l'assurance-crédit.",
    "Sous réserve de la réception du contrat signé.",
    "Caution personnelle du gérant à hauteur de 20 %.",
    None,
)


@dataclass(frozen=True)
class DemoExporter:
    """An exporter: `key` is its organisation (the token's `org`), `user` its token's `sub`;
    `body` its `POST /v1/exporters`."""

    key: str
    user: str
    sector: str
    size: str
    body: JsonObject

    @property
    def region(self) -> str:
        return str(self.body["region"])

    @property
    def is_mono_market(self) -> bool:
        shares: dict[str, float] = {}
        for line in self.body["exports"]:
            shares[line["destination"]] = shares.get(line["destination"], 0) + float(
                line["share_pct"]
            )
        total = sum(shares.values())
        return bool(total) and max(shares.values()) * 100 >= 80 * total


@dataclass(frozen=True)
class Offer:
    """The terms a provider offers, relative to the request (`amount_pct` of its amount, its
    tenor and currency), valid `valid_days` from the day it is made."""

    rate_pct: float
    fees_pct: float
    amount_pct: int
    valid_days: int
    binding: bool
    conditions: str | None


@dataclass(frozen=True)
class DemoRequest:
    """A financing request of exporter `exporter` (its key), `body` its
    `POST /v1/financing-requests`, and how far its deal flow goes (`story`). For the stories
    that reach a review: the advisor approves the `approve` best matches (or rejects with
    `note`), and the provider of the first referral answers with the `question`, the `offer`
    or the `decline` (a reason code and a message); the exporter replies with `reply`."""

    key: str
    exporter: str
    body: JsonObject
    story: str
    approve: int = 0
    note: str | None = None
    question: str | None = None
    reply: str | None = None
    offer: Offer | None = None
    decline: tuple[str, str] | None = None


@dataclass(frozen=True)
class Walkthrough:
    """The guided demo (`make demo`): a mono-market exporter of Souss-Massa asks pre-shipment
    finance for a new AfCFTA market; `bank` asks `question`, the exporter answers `reply`, the
    bank offers `offer` on the product `product` (bundled with a guarantee)."""

    exporter: str
    request: JsonObject
    bank: str
    product: str
    question: str
    reply: str
    offer: Offer


@dataclass(frozen=True)
class DemoData:
    seed: int
    providers: tuple[DemoProvider, ...]
    products: tuple[DemoProduct, ...]
    exporters: tuple[DemoExporter, ...]
    requests: tuple[DemoRequest, ...]
    walkthrough: Walkthrough
    advisors: dict[str, str] = field(default_factory=dict)

    def exporter(self, key: str) -> DemoExporter:
        return next(e for e in self.exporters if e.key == key)

    def sample(self) -> DemoData:
        """A small data set for tests: the whole catalogue, the first request of each story and
        their exporters, and the guided demo's exporter."""
        requests: list[DemoRequest] = []
        for story in STORIES:
            requests += [r for r in self.requests if r.story == story][:1]
        keys = {self.walkthrough.exporter} | {r.exporter for r in requests}
        return replace(
            self,
            exporters=tuple(e for e in self.exporters if e.key in keys),
            requests=tuple(r for r in self.requests if r in requests),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """The data set as canonical JSON: keys sorted, no spaces, non-ASCII kept."""
        return json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# --- the guided demo's exporter and request (fixed) ------------------------------------------

GUIDE = DemoExporter(
    key="demo-agrumes-tafoukt",
    user="demo-agrumes-tafoukt-export",
    sector="agrifood",
    size="medium",
    body={
        "legal_name": "Agrumes Tafoukt SARL",
        "ice": "091750200000118",
        "region": "souss-massa",
        "legal_form": "SARL",
        "founded_year": 2009,
        "exporting_since": 2013,
        "employees": 64,
        "annual_turnover_mad": "42000000.00",
        "export_turnover_mad": "31500000.00",
        "exports": [
            {"hs_code": "0805", "destination": "FR", "share_pct": "70"},
            {"hs_code": "0702", "destination": "FR", "share_pct": "16"},
            {"hs_code": "0805", "destination": "NL", "share_pct": "14"},
        ],
        "audited_accounts": True,
        "collateral_available_mad": "600000.00",
    },
)
WALKTHROUGH = Walkthrough(
    exporter=GUIDE.key,
    request={
        "instrument": "pre_shipment",
        "amount": "1800000",
        "currency": "MAD",
        "tenor_days": 150,
        "destination": "SN",
        "hs_codes": ["0805"],
        "purpose": "new_contract",
        "payment_terms": "lc",
        "buyer": {"name": "Teranga Agrumes Distribution", "country": "SN"},
    },
    bank="arganier",
    product="arganier-afrique-garanti",
    question=(
        "Merci de nous transmettre le projet de crédit documentaire de votre acheteur "
        "sénégalais et vos comptes audités 2025."
    ),
    reply=(
        "Le projet de crédit documentaire de Teranga Agrumes Distribution et nos comptes "
        "audités 2025 sont joints au dossier."
    ),
    offer=Offer(
        rate_pct=5.2,
        fees_pct=0.4,
        amount_pct=100,
        valid_days=30,
        binding=True,
        conditions=(
            "Garantie du Fonds Public de Garantie des Exportations à 70 % ; crédit "
            "documentaire domicilié à nos guichets."
        ),
    ),
)


def region_order() -> tuple[str, ...]:
    """The 12 regions in the reference data's order (`region_codes()` is a set: no order)."""
    return tuple(region.code for region in regions())


# --- drawing ----------------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[rng.randrange(len(items))]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return "-".join(w for w in words if w not in {"de", "du", "des", "la", "l", "d"})


def _money(value: Decimal, step: int) -> Decimal:
    """`value` rounded to a multiple of `step` (at least one step)."""
    steps = (value / step).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return max(steps, Decimal(1)) * step


def _shares(rng: random.Random, mono: bool, count: int) -> list[int]:
    """Whole percentages summing to 100 over `count` markets, the first one the largest: at
    least 80 for a mono-market firm, below 80 otherwise."""
    if count == 1:
        return [100]
    if mono:
        first = rng.randint(80, 95)
        rest = _split(rng, 100 - first, count - 1)
        return [first, *rest]
    while True:
        weights = [rng.uniform(1.0, 3.0) for _ in range(count)]
        total = sum(weights)
        shares = [max(1, round(100 * w / total)) for w in weights]
        shares[0] += 100 - sum(shares)
        shares.sort(reverse=True)
        if shares[0] < 80 and min(shares) > 0:
            return shares


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 and total > parts else []
    if len(cuts) != parts - 1:
        return [total] + [0] * (parts - 1)
    edges = [0, *cuts, total]
    return sorted((b - a for a, b in itertools.pairwise(edges)), reverse=True)


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = {str(GUIDE.body["legal_name"])}

    def company(self, sector: Sector, region: str, size: str) -> tuple[str, str]:
        while True:
            stem = _pick(self.rng, sector.stems)
            word = _pick(self.rng, WORDS)
            place = _pick(self.rng, PLACES[region])
            cooperative = size == "micro" and sector.label in ("Agrifood", "Handicrafts")
            if cooperative and self.rng.random() < 0.5:
                name, form = f"Coopérative {word} {place}", "Coopérative"
            else:
                form = {"micro": "SARL AU", "small": "SARL", "medium": "SARL", "large": "SA"}[size]
                name = f"{stem} {word} {place}"
            if name not in self.used:
                self.used.add(name)
                return name, form


def _exporter(
    rng: random.Random, names: _Names, index: int, sector_key: str, region: str
) -> DemoExporter:
    sector = SECTORS[sector_key]
    size = _weighted(rng, sector.sizes)
    low, high = SIZE_BANDS[size]
    employees = rng.randint(low, high)
    per_head = rng.randint(*sector.turnover_per_employee)
    turnover = _money(Decimal(employees * per_head), 10_000)
    export_share = rng.randint(*sector.export_share_pct)
    export_turnover = _money(turnover * export_share / 100, 10_000)
    founded = rng.randint(1978, 2022)
    exporting_since = min(2024, founded + rng.randint(0, 6))
    mono = rng.randint(1, 100) <= sector.mono_market_pct
    if mono and sector_key != "phosphates_fertilisers":
        eu = {m: w for m, w in sector.markets.items() if m in EU_MARKETS}
        first = _weighted(rng, eu)
    else:
        first = _weighted(rng, sector.markets)
    others = [m for m in sector.markets if m != first]
    rng.shuffle(others)
    count = 1 if mono and rng.random() < 0.3 else rng.randint(2, 4)
    markets = [first, *others[: count - 1]]
    shares = _shares(rng, mono, len(markets))
    products = list(sector.products)
    rng.shuffle(products)
    main = products[0]
    exports: list[JsonObject] = []
    for market, share in zip(markets, shares, strict=True):
        if share <= 0:
            continue
        if market == first and share >= 30 and rng.random() < 0.5:
            # The main market takes a second product.
            second = rng.randint(5, share - 5)
            exports.append(
                {"hs_code": main, "destination": market, "share_pct": str(share - second)}
            )
            exports.append(
                {"hs_code": products[1], "destination": market, "share_pct": str(second)}
            )
        else:
            hs = main if market == first or rng.random() < 0.6 else _pick(rng, products[:3])
            exports.append({"hs_code": hs, "destination": market, "share_pct": str(share)})
    trade_name, form = names.company(sector, region, size)
    name = trade_name if form == "Coopérative" else f"{trade_name} {form}"
    audited = {
        "large": True,
        "medium": rng.random() < 0.85,
        "small": rng.random() < 0.5,
        "micro": rng.random() < 0.15,
    }[size]
    body: JsonObject = {
        "legal_name": name,
        "ice": f"09{rng.randrange(10**5):05d}{index:03d}000{rng.randrange(100):02d}",
        "region": region,
        "legal_form": form,
        "founded_year": founded,
        "exporting_since": exporting_since,
        "employees": employees,
        "annual_turnover_mad": f"{turnover:.2f}",
        "export_turnover_mad": f"{export_turnover:.2f}",
        "exports": exports,
    }
    # Some profiles leave answers out, so that some matches are conditional on them.
    if rng.random() < 0.85:
        body["audited_accounts"] = audited
    if rng.random() < 0.7:
        body["collateral_available_mad"] = (
            f"{_money(turnover * rng.randint(3, 25) / 100, 10_000):.2f}"
        )
    key = f"demo-{_slug(trade_name)}"[:80]
    return DemoExporter(key=key, user=f"{key}-export", sector=sector_key, size=size, body=body)


def _exporters(rng: random.Random) -> list[DemoExporter]:
    names = _Names(rng)
    left = {key: sector.count for key, sector in SECTORS.items()}
    exporters = [GUIDE]
    # One exporter per region first, so that every region has some.
    for region in region_order():
        candidates = {
            key: SECTORS[key].regions[region]
            for key in SECTORS
            if region in SECTORS[key].regions and left[key] > 0
        }
        sector = _weighted(rng, candidates)
        left[sector] -= 1
        exporters.append(_exporter(rng, names, len(exporters), sector, region))
    slots = [key for key, n in left.items() for _ in range(n)]
    rng.shuffle(slots)
    for sector in slots:
        region = _weighted(rng, SECTORS[sector].regions)
        exporters.append(_exporter(rng, names, len(exporters), sector, region))
    return exporters


def _currencies(instrument: str) -> tuple[str, ...]:
    """The currencies the catalogue's products of `instrument` lend in, in catalogue order."""
    found: dict[str, None] = {}
    for product in PRODUCTS:
        if product.body["instrument"] == instrument:
            found.update(dict.fromkeys(product.body["currencies"]))
    return tuple(found)


def _destinations(exporter: DemoExporter) -> dict[str, float]:
    shares: dict[str, float] = {}
    for line in exporter.body["exports"]:
        shares[line["destination"]] = shares.get(line["destination"], 0) + float(line["share_pct"])
    return shares


def _request_body(rng: random.Random, exporter: DemoExporter) -> JsonObject:
    sector = SECTORS[exporter.sector]
    instrument = _weighted(rng, sector.instruments)
    if instrument == "forfaiting" and exporter.size not in ("medium", "large"):
        instrument = "lc_confirmation"
    markets = _destinations(exporter)
    known = list(markets)
    if instrument == "supply_chain_finance":
        # Payables finance is arranged by a large buyer, here a European one.
        european = [m for m in known if m in EU_MARKETS]
        destination = european[0] if european else _pick(rng, ("FR", "ES", "DE"))
    elif instrument == "prospection_insurance" or (exporter.is_mono_market and rng.random() < 0.55):
        fresh = [m for m in NEW_AFRICAN_MARKETS if m not in markets]
        destination = _pick(rng, fresh)
    elif rng.random() < 0.2:
        destination = _pick(
            rng, [m for m in (*NEW_AFRICAN_MARKETS, "GB", "US", "CA") if m not in markets]
        )
    else:
        destination = rng.choices(known, weights=[markets[m] for m in known])[0]
    hs_codes = list(dict.fromkeys(line["hs_code"] for line in exporter.body["exports"]))
    chosen = hs_codes[:1] if len(hs_codes) == 1 or rng.random() < 0.8 else hs_codes[:2]
    export_turnover = Decimal(exporter.body["export_turnover_mad"])
    low, high = AMOUNT_SHARE[instrument]
    amount_mad = export_turnover * Decimal(str(round(rng.uniform(low, high), 3)))
    if instrument == "prospection_insurance":
        amount_mad = min(max(amount_mad, Decimal(30_000)), Decimal(2_500_000))
    amount_mad = min(max(amount_mad, Decimal(50_000)), Decimal(AMOUNT_CAP[instrument]))
    # A currency the providers of this instrument lend in: MAD mostly, else euros, and dollars
    # for the sectors that sell in dollars.
    offered = _currencies(instrument)
    big = exporter.size in ("medium", "large")
    weights = {"MAD": 70, "EUR": 22 if exporter.size != "micro" else 0, "USD": sector.usd_pct * big}
    weights = {c: w for c, w in weights.items() if c in offered and w}
    currency = _weighted(rng, weights) if weights else offered[0]
    if currency == "MAD":
        amount = _money(amount_mad, 10_000 if amount_mad >= 1_000_000 else 5_000)
    else:
        rate = fx_table().rates[currency]
        amount = _money(amount_mad / rate, 1_000)
    if instrument == "lc_confirmation":
        terms = "lc"
    elif instrument == "documentary_collection_finance":
        terms = "documentary_collection"
    elif instrument in ("export_factoring", "supply_chain_finance"):
        terms = "open_account"
    elif destination in EU_MARKETS:
        terms = _weighted(
            rng, {"open_account": 70, "documentary_collection": 15, "lc": 10, "advance": 5}
        )
    elif destination in NEW_AFRICAN_MARKETS:
        terms = _weighted(
            rng, {"lc": 50, "documentary_collection": 30, "open_account": 15, "advance": 5}
        )
    else:
        terms = _weighted(rng, {"lc": 40, "documentary_collection": 30, "open_account": 30})
    if instrument == "prospection_insurance":
        purpose = "market_entry"
    elif instrument in ("lc_confirmation", "bank_guarantee"):
        purpose = "new_contract"
    elif instrument == "pre_export_finance":
        purpose = _weighted(rng, {"new_contract": 60, "working_capital": 40})
    elif instrument == "export_credit_insurance":
        purpose = _weighted(rng, {"new_contract": 50, "receivables": 50})
    else:
        purpose = _weighted(rng, {"receivables": 70, "working_capital": 30})
    asked = instrument
    shape = rng.randint(1, 100)
    if shape <= 12 and instrument in FAMILY_OF:
        asked = FAMILY_OF[instrument]
    elif shape >= 98:
        asked = "any"
    body: JsonObject = {
        "instrument": asked,
        "amount": str(amount),
        "currency": currency,
        "tenor_days": _pick(rng, TENORS[instrument]),
        "destination": destination,
        "hs_codes": chosen,
        "purpose": purpose,
        "payment_terms": terms,
    }
    if rng.random() < 0.35:
        buyer = f"{_pick(rng, BUYER_STEMS)} {_pick(rng, BUYER_KINDS)} {destination}"
        body["buyer"] = {"name": buyer, "country": destination}
    return body


def _story(rng: random.Random, key: str, exporter: DemoExporter, body: JsonObject) -> DemoRequest:
    story = _weighted(rng, STORIES)
    request = DemoRequest(key=key, exporter=exporter.key, body=body, story=story)
    if story == "rejected":
        return replace(request, note=_pick(rng, REJECTION_NOTES))
    if story not in REFERRED:
        return request
    question, reply = _pick(rng, QUESTIONS)
    offer = Offer(
        rate_pct=round(rng.uniform(4.2, 7.2), 2),
        fees_pct=_pick(rng, (0.25, 0.4, 0.5, 0.75, 1.0)),
        amount_pct=_pick(rng, (100, 100, 100, 90, 80)),
        valid_days=_pick(rng, (15, 21, 30, 45)),
        binding=rng.random() < 0.7,
        conditions=_pick(rng, OFFER_CONDITIONS),
    )
    asks = story in ("question", "answered", "offer", "accepted", "offer_declined")
    offers = story in ("offer", "accepted", "offer_declined")
    return DemoRequest(
        key=key,
        exporter=exporter.key,
        body=body,
        story=story,
        approve=1 if rng.random() < 0.6 else 2,
        note=_pick(rng, APPROVAL_NOTES),
        question=question if asks else None,
        reply=reply if asks and story != "question" else None,
        offer=offer if offers else None,
        decline=_pick(rng, DECLINES) if story == "declined" else None,
    )


def _requests(rng: random.Random, exporters: list[DemoExporter]) -> list[DemoRequest]:
    applicants = exporters[1:]  # the guided demo's exporter makes its request on the day
    counts = dict.fromkeys((e.key for e in applicants), 1)
    idle = rng.sample([e.key for e in applicants], 20)
    for key in idle:
        counts[key] = 0
    busy = [e.key for e in applicants if counts[e.key]]
    while sum(counts.values()) < REQUEST_COUNT:
        key = _pick(rng, busy)
        if counts[key] < 4:
            counts[key] += 1
    requests: list[DemoRequest] = []
    for exporter in applicants:
        for n in range(1, counts[exporter.key] + 1):
            body = _request_body(rng, exporter)
            requests.append(_story(rng, f"{exporter.key}/{n}", exporter, body))
    return requests


def generate(seed: int = DEFAULT_SEED) -> DemoData:
    """The demo data set of `seed`: the same seed, the same data, byte for byte."""
    rng = random.Random(seed)
    exporters = _exporters(rng)
    requests = _requests(rng, exporters)
    advisors = {region: f"demo-advisor-{region}" for region in region_order()}
    return DemoData(
        seed=seed,
        providers=PROVIDERS,
        products=PRODUCTS,
        exporters=tuple(exporters),
        requests=tuple(requests),
        walkthrough=WALKTHROUGH,
        advisors=advisors,
    )


__all__ = [
    "DEFAULT_SEED",
    "GUIDE",
    "REFERRED",
    "SECTORS",
    "STORIES",
    "DemoData",
    "DemoExporter",
    "DemoRequest",
    "Offer",
    "Walkthrough",
    "generate",
]
