"""The matching engine's benchmark (`make bench`, or `python -m benchmarks.engine`).

It measures, on a seeded and realistic catalogue of products, exporters and requests:

1. one request against 1k, 10k and 100k products: the columnar engine (`ProductIndex.evaluate`,
   every match ranked, the first 50 matches and the 50 nearest misses built as objects; and
   apart, every match built as an object) and the per-row oracle side by side;
2. one product change against 10k and 100k open requests: `RequestIndex.screen` and the
   re-evaluation of every request it affects, against the oracle's per-row check; then the
   same change with its writes, through the service's unit of work on an SQLite database
   built by the service's own migrations;
3. the memory of a 100k product index, and the time to refresh it after one product changes.

It prints a table and writes every figure to `benchmarks/results/engine-<date>.json`.
`BENCH_QUICK=1` runs a smaller and shorter version (for a smoke test: the 100k figures are
then left out). `BENCH_SEED` changes the seed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from matching.adapters import orm
from matching.bootstrap import definition
from matching.config import get_matching_settings
from matching.domain import oracle
from matching.domain.engine import ProductIndex, ProductOutcomes, RequestIndex
from matching.domain.facts import (
    GUARANTEE,
    INSURANCE,
    Product,
    Profile,
    Request,
    is_strategic,
    strategic_countries,
)
from matching.domain.outcome import Kept, merged, ranked
from matching.domain.rules import BUNDLE_RULES, ScoringConfig
from matching.service_layer.matcher import Matcher, affected_by_product, rematch
from sqlalchemy import insert
from tasdir.contracts import Envelope, events
from tasdir.messaging import InProcessBus
from tasdir.reference import (
    FxTable,
    bloc_codes,
    country_codes,
    fx_table,
    region_codes,
    valid_chapter_codes,
)
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

from benchmarks import common

ROOT = common.ROOT
RESULTS = common.RESULTS

# ---- the generator ----------------------------------------------------------------------------

#: Morocco's regions, weighted roughly by their share of exporters.
REGION_WEIGHTS = {
    "casablanca-settat": 34,
    "tanger-tetouan-al-hoceima": 16,
    "rabat-sale-kenitra": 10,
    "souss-massa": 10,
    "fes-meknes": 7,
    "marrakech-safi": 7,
    "oriental": 5,
    "beni-mellal-khenifra": 3,
    "draa-tafilalet": 2,
    "guelmim-oued-noun": 2,
    "laayoune-sakia-el-hamra": 2,
    "dakhla-oued-ed-dahab": 2,
}
#: Morocco's export sectors as HS chapters, weighted roughly by their share of exporters.
SECTORS: dict[str, tuple[int, tuple[str, ...]]] = {
    "citrus_and_fruit": (10, ("08", "20")),
    "vegetables": (9, ("07", "20")),
    "fisheries": (8, ("03", "16")),
    "olive_oil_and_food": (6, ("15", "19", "21", "09")),
    "apparel": (12, ("61", "62", "63")),
    "leather_and_shoes": (4, ("41", "42", "64")),
    "automotive": (9, ("87", "85", "40")),
    "aerospace": (3, ("88", "84")),
    "electrical": (7, ("85", "84")),
    "phosphates": (2, ("25", "28", "31")),
    "plastics_and_chemicals": (5, ("39", "38", "33")),
    "argan_and_cosmetics": (4, ("33", "15")),
    "crafts_and_furniture": (5, ("94", "69", "57", "44")),
    "metals": (3, ("72", "73", "76")),
    "mining": (1, ("26", "71")),
}
#: Destinations of Morocco's exports, weighted; the rest of the world takes the tail.
DESTINATION_WEIGHTS = {
    "ES": 20,
    "FR": 20,
    "IT": 4,
    "DE": 4,
    "NL": 4,
    "GB": 4,
    "BE": 3,
    "PT": 3,
    "US": 5,
    "IN": 2,
    "BR": 2,
    "TR": 2,
    "CN": 1,
    "SN": 4,
    "CI": 3,
    "ML": 2,
    "MR": 3,
    "NG": 2,
    "GH": 1,
    "CM": 1,
    "GA": 1,
    "EG": 1,
    "TN": 1,
    "SA": 2,
    "AE": 2,
    "QA": 1,
    "RU": 1,
    "CA": 1,
}
OTHER_DESTINATIONS = 5  # weight of a uniformly drawn country of the reference list
FINANCING = (
    "pre_export_finance",
    "post_shipment_finance",
    "receivables_discounting",
    "export_factoring",
    "forfaiting",
    "documentary_collection_finance",
    "supply_chain_finance",
)
PRODUCT_INSTRUMENTS = {
    "pre_export_finance": 18,
    "post_shipment_finance": 9,
    "receivables_discounting": 9,
    "export_factoring": 7,
    "forfaiting": 4,
    "documentary_collection_finance": 5,
    "supply_chain_finance": 4,
    "lc_confirmation": 10,
    "bank_guarantee": 6,
    "prospection_insurance": 3,
    INSURANCE: 12,
    GUARANTEE: 13,
}
#: What a request may name: an instrument, a family, or `any`.
REQUESTED = {
    "any": 22,
    "pre_shipment": 18,
    "post_shipment": 16,
    "payment_security": 6,
    "risk_cover": 5,
    "pre_export_finance": 12,
    "receivables_discounting": 6,
    "export_factoring": 4,
    "lc_confirmation": 5,
    "forfaiting": 2,
    "bank_guarantee": 2,
    "prospection_insurance": 2,
}
DESTINATION_RULES: tuple[tuple[str, ...], ...] = (
    ("afcfta",),
    ("eu",),
    ("ecowas",),
    ("europe",),
    ("africa",),
    ("western-africa", "northern-africa"),
    ("FR", "ES", "PT", "IT"),
    ("uma", "ecowas"),
    ("eu", "GB", "US", "CA"),
    ("gcc",),
)
SANCTIONS: tuple[tuple[str, ...], ...] = (
    ("RU", "BY", "IR", "KP", "SY", "CU"),
    ("KP", "IR"),
    ("DZ",),
    ("RU", "BY"),
)
HS_EXCLUDES: tuple[tuple[str, ...], ...] = (("93",), ("24",), ("93", "97", "71"), ("22", "24"))
TERMS = ("advance", "lc", "documentary_collection", "open_account")
MILLION = 1_000_000


def weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def maybe(rng: random.Random, chance: float) -> bool:
    return rng.random() < chance


def uuid_of(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def money(value: float) -> Decimal:
    """A round amount: three significant figures."""
    digits = max(len(str(int(value))) - 3, 0)
    return Decimal(int(round(value, -digits)))


@dataclass
class Generator:
    """Products, exporters and requests drawn from one seeded `random.Random`."""

    seed: int
    today: date
    rng: random.Random = field(init=False)
    banks: list[UUID] = field(init=False)
    guarantors: list[UUID] = field(init=False)
    insurers: list[UUID] = field(init=False)
    countries: list[str] = field(init=False)
    sector_weights: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.banks = [uuid_of(self.rng) for _ in range(30)]
        self.guarantors = [uuid_of(self.rng) for _ in range(4)]
        self.insurers = [uuid_of(self.rng) for _ in range(4)]
        self.countries = sorted(country_codes() - {"MA"})
        self.sector_weights = {name: weight for name, (weight, _) in SECTORS.items()}
        # The reference data knows every code drawn here.
        known = set(valid_chapter_codes())
        assert all(set(chapters) <= known for _, chapters in SECTORS.values())
        assert set(REGION_WEIGHTS) == set(region_codes())
        assert {"afcfta", "eu", "ecowas", "uma", "gcc"} <= set(bloc_codes())

    @property
    def providers(self) -> list[UUID]:
        return [*self.banks, *self.guarantors, *self.insurers]

    # -- products

    def product(self, number: int) -> events.ProductSnapshot:
        rng = self.rng
        instrument = weighted(rng, PRODUCT_INSTRUMENTS)
        if instrument == GUARANTEE:
            return self._guarantee(number)
        if instrument == INSURANCE:
            return self._insurance(number)
        lending = instrument in FINANCING
        low, high = self._amount_bounds()
        tenor_cap = 1800 if instrument == "forfaiting" else rng.choice([180, 270, 360, 720])
        eligibility: dict[str, Any] = {
            "regions": self._regions() if maybe(rng, 0.15) else None,
            "hs_chapters_include": self._sector_chapters() if maybe(rng, 0.15) else None,
            "hs_chapters_exclude": rng.choice(HS_EXCLUDES) if maybe(rng, 0.25) else None,
            "destinations_include": rng.choice(DESTINATION_RULES) if maybe(rng, 0.2) else None,
            "destinations_exclude": rng.choice(SANCTIONS) if maybe(rng, 0.3) else None,
            "min_turnover_mad": self._millions([1, 2, 5, 10, 20, 50]) if maybe(rng, 0.35) else None,
            "max_turnover_mad": self._millions([50, 75, 175, 500]) if maybe(rng, 0.12) else None,
            "min_export_turnover_mad": self._millions([0.5, 1, 2, 5]) if maybe(rng, 0.15) else None,
            "min_export_share_pct": rng.choice([10.0, 20.0, 30.0, 50.0])
            if maybe(rng, 0.1)
            else None,
            "min_years_exporting": rng.choice([1, 2, 3, 5]) if maybe(rng, 0.3) else None,
            "max_employees": rng.choice([50, 200, 250, 500]) if maybe(rng, 0.1) else None,
            "payment_terms_include": self._terms(instrument),
            "requires_audited_accounts": maybe(rng, 0.3),
            "min_collateral_pct": rng.choice([10.0, 20.0, 25.0, 50.0, 100.0])
            if lending and maybe(rng, 0.2)
            else None,
            "requires_guarantee": lending and maybe(rng, 0.2),
            "requires_insurance": instrument
            in ("post_shipment_finance", "receivables_discounting", "export_factoring")
            and maybe(rng, 0.25),
        }
        rate = round(rng.uniform(3.5, 9.5), 2) if lending else None
        return self._snapshot(
            number,
            provider=rng.choice(self.banks),
            instrument=instrument,
            currencies=self._currencies(),
            low=low,
            high=high,
            tenor=(rng.choice([30, 60, 90]) if maybe(rng, 0.4) else None, tenor_cap),
            eligibility=eligibility,
            pricing={
                "indicative_rate_pct": rate,
                "fees_pct": round(rng.uniform(0.1, 1.5), 2) if maybe(rng, 0.7) else None,
            },
            cover=None,
        )

    def _guarantee(self, number: int) -> events.ProductSnapshot:
        rng = self.rng
        covers = rng.sample(FINANCING, rng.randint(1, 4))
        partners = rng.sample(self.banks, rng.randint(1, 6)) if maybe(rng, 0.6) else []
        eligibility: dict[str, Any] = {
            "regions": self._regions() if maybe(rng, 0.1) else None,
            "max_turnover_mad": self._millions([50, 175, 500]) if maybe(rng, 0.5) else None,
            "min_years_exporting": rng.choice([1, 2]) if maybe(rng, 0.3) else None,
            "destinations_exclude": rng.choice(SANCTIONS) if maybe(rng, 0.4) else None,
        }
        return self._snapshot(
            number,
            provider=rng.choice(self.guarantors),
            instrument=GUARANTEE,
            currencies=("MAD", "EUR", "USD"),
            low=None,
            high=self._millions([10, 20, 50, 100]),
            tenor=(None, 720),
            eligibility=eligibility,
            pricing={"fees_pct": round(rng.uniform(0.5, 2.0), 2)},
            cover=float(rng.choice([50, 60, 70, 80])),
            covers=tuple(covers),
            partners=tuple(partners),
        )

    def _insurance(self, number: int) -> events.ProductSnapshot:
        rng = self.rng
        eligibility: dict[str, Any] = {
            "destinations_exclude": rng.choice(SANCTIONS) if maybe(rng, 0.6) else None,
            "destinations_include": rng.choice(DESTINATION_RULES) if maybe(rng, 0.2) else None,
            "min_years_exporting": rng.choice([1, 2]) if maybe(rng, 0.2) else None,
            "payment_terms_include": ("open_account", "documentary_collection")
            if maybe(rng, 0.5)
            else None,
        }
        return self._snapshot(
            number,
            provider=rng.choice(self.insurers),
            instrument=INSURANCE,
            currencies=("MAD", "EUR", "USD", "GBP"),
            low=None,
            high=self._millions([20, 50, 100, 500]) if maybe(rng, 0.6) else None,
            tenor=(None, rng.choice([180, 360, 720])),
            eligibility=eligibility,
            pricing={"premium_pct": round(rng.uniform(0.2, 1.2), 2)},
            cover=float(rng.choice([80, 85, 90, 95])),
        )

    def _snapshot(
        self,
        number: int,
        *,
        provider: UUID,
        instrument: str,
        currencies: Sequence[str],
        low: Decimal | None,
        high: Decimal | None,
        tenor: tuple[int | None, int | None],
        eligibility: dict[str, Any],
        pricing: dict[str, float | None],
        cover: float | None,
        covers: tuple[str, ...] = (),
        partners: tuple[UUID, ...] = (),
    ) -> events.ProductSnapshot:
        rng = self.rng
        valid_from = valid_to = None
        if maybe(rng, 0.15):
            valid_from = self.today + timedelta(days=rng.choice([-365, -90, -30, 30]))
        if maybe(rng, 0.2):
            valid_to = self.today + timedelta(days=rng.choice([-10, 60, 180, 365, 730]))
        currency = rng.choices(["MAD", "EUR", "USD"], weights=[70, 25, 5])[0]
        rate = {"MAD": 1.0, "EUR": 10.8, "USD": 10.0}[currency]
        return events.ProductPublished(
            id=uuid_of(rng),
            provider_id=provider,
            status="published",
            product_version=1,
            name={"fr": f"Produit {number}", "en": f"Product {number}"},
            description={"fr": "-", "en": "-"},
            instrument=instrument,
            currencies=tuple(currencies),
            amount_min=None if low is None else money(float(low) / rate),
            amount_max=None if high is None else money(float(high) / rate),
            amount_currency=currency,
            tenor_min_days=tenor[0],
            tenor_max_days=tenor[1],
            eligibility=eligibility,
            pricing=pricing,
            cover_pct=cover,
            covers_instruments=covers,
            partner_provider_ids=partners,
            decision_days=rng.choice([2, 5, 7, 10, 15, 21, 30, 45, 60])
            if maybe(rng, 0.9)
            else None,
            valid_from=valid_from,
            valid_to=valid_to,
        )

    def _amount_bounds(self) -> tuple[Decimal | None, Decimal | None]:
        rng = self.rng
        low = self._millions([0.1, 0.25, 0.5, 1, 2, 5]) if maybe(rng, 0.7) else None
        high = self._millions([2, 5, 10, 20, 50, 100, 200]) if maybe(rng, 0.8) else None
        if low is not None and high is not None and low > high:
            low, high = high, low
        return low, high

    def _millions(self, choices: list[float]) -> Decimal:
        return Decimal(str(self.rng.choice(choices))) * MILLION

    def _regions(self) -> tuple[str, ...]:
        regions = list(REGION_WEIGHTS)
        return tuple(self.rng.sample(regions, self.rng.randint(1, 4)))

    def _sector_chapters(self) -> tuple[str, ...]:
        chapters: set[str] = set()
        for _ in range(self.rng.randint(1, 3)):
            chapters |= set(SECTORS[weighted(self.rng, self.sector_weights)][1])
        return tuple(sorted(chapters))

    def _currencies(self) -> tuple[str, ...]:
        rng = self.rng
        base = rng.choices(
            [("MAD", "EUR", "USD"), ("MAD", "EUR"), ("EUR", "USD"), ("MAD",), ("EUR",)],
            weights=[40, 20, 15, 10, 10],
        )[0]
        return (*base, "GBP") if maybe(rng, 0.05) else base

    def _terms(self, instrument: str) -> tuple[str, ...] | None:
        if instrument == "lc_confirmation":
            return ("lc",)
        if instrument == "documentary_collection_finance":
            return ("documentary_collection",)
        if instrument in ("receivables_discounting", "export_factoring"):
            return ("open_account", "documentary_collection")
        if maybe(self.rng, 0.15):
            return tuple(self.rng.sample(TERMS, self.rng.randint(1, 3)))
        return None

    # -- exporters and requests

    def destination(self) -> str:
        rng = self.rng
        if rng.randrange(sum(DESTINATION_WEIGHTS.values()) + OTHER_DESTINATIONS) < (
            OTHER_DESTINATIONS
        ):
            return rng.choice(self.countries)
        return weighted(rng, DESTINATION_WEIGHTS)

    def exporter(self, number: int) -> events.ExporterSnapshot:
        rng = self.rng
        turnover = money(min(rng.lognormvariate(17.0, 1.3), 5e9))  # median ~24M MAD
        share = rng.choice([0.1, 0.25, 0.4, 0.6, 0.8, 0.95, 1.0])
        exported = money(float(turnover) * share)
        sector = weighted(rng, self.sector_weights)
        chapter = SECTORS[sector][1][0]
        markets = {self.destination() for _ in range(rng.randint(1, 4))}
        return events.ExporterUpdated(
            id=uuid_of(rng),
            org=f"org-{number}",
            status="active",
            legal_name=f"Exporter {number} SARL",
            ice=f"{number:015d}",
            region=weighted(rng, REGION_WEIGHTS),
            employees=max(1, int(rng.lognormvariate(3.8, 1.1))) if maybe(rng, 0.9) else None,
            annual_turnover_mad=turnover if maybe(rng, 0.9) else None,
            export_turnover_mad=exported if maybe(rng, 0.85) else None,
            export_share_pct=share * 100 if maybe(rng, 0.85) else None,
            audited_accounts=rng.choices([True, False, None], weights=[50, 30, 20])[0],
            collateral_available_mad=money(float(turnover) * rng.uniform(0.0, 0.5))
            if maybe(rng, 0.7)
            else None,
            is_mono_market=len(markets) == 1 if maybe(rng, 0.8) else None,
            years_exporting=rng.randint(0, 30) if maybe(rng, 0.9) else None,
            exports=[
                {"hs_code": chapter + "01", "destination": m, "share_pct": 100 / len(markets)}
                for m in sorted(markets)
            ],
        )

    def request(self, exporter: events.ExporterSnapshot) -> events.FinancingRequestSnapshot:
        rng = self.rng
        currency = rng.choices(["EUR", "MAD", "USD", "GBP", "XOF"], weights=[50, 25, 20, 3, 2])[0]
        rate = {"MAD": 1.0, "EUR": 10.8, "USD": 10.0, "GBP": 12.7, "XOF": 0.0165}[currency]
        amount_mad = min(rng.lognormvariate(14.5, 1.2), 5e8)  # median ~2M MAD
        chapter = exporter.exports[0].hs_code[:2] if exporter.exports else "08"
        codes = {f"{chapter}{rng.randint(1, 12):02d}"}
        if maybe(rng, 0.3):
            sector = weighted(rng, self.sector_weights)
            codes.add(f"{rng.choice(SECTORS[sector][1])}{rng.randint(1, 9):02d}")
        markets = [line.destination for line in exporter.exports]
        destination = rng.choice(markets) if markets and maybe(rng, 0.7) else self.destination()
        return events.FinancingRequestSubmitted(
            id=uuid_of(rng),
            exporter_id=exporter.id,
            org=exporter.org,
            status="submitted",
            region=exporter.region,
            instrument=weighted(rng, REQUESTED),
            amount=money(amount_mad / rate),
            currency=currency,
            tenor_days=rng.choice([30, 60, 90, 120, 180, 270, 360, 540, 720]),
            destination=destination,
            hs_codes=tuple(sorted(codes)),
            purpose=rng.choice(["new_contract", "working_capital", "receivables", "market_entry"]),
            payment_terms=rng.choices(TERMS, weights=[20, 25, 20, 35])[0],
        )


# ---- measuring ------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1_000.0


@dataclass
class Figure:
    """A timed operation: its samples in milliseconds."""

    samples: list[float]
    note: str = ""

    @property
    def p50(self) -> float:
        return float(np.percentile(self.samples, 50))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.samples, 99))

    def as_json(self) -> dict[str, Any]:
        values = self.samples
        return {
            "n": len(values),
            "p50_ms": round(self.p50, 4),
            "p90_ms": round(float(np.percentile(values, 90)), 4),
            "p99_ms": round(self.p99, 4),
            "mean_ms": round(statistics.fmean(values), 4),
            "min_ms": round(min(values), 4),
            "max_ms": round(max(values), 4),
            "note": self.note,
            "samples_ms": [round(v, 4) for v in values],
        }


def counts(values: Sequence[int]) -> dict[str, float]:
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "mean": round(statistics.fmean(values), 2),
        "max": max(values),
    }


@contextmanager
def quiet_gc() -> Iterator[None]:
    """A collection before a series, so that one series does not pay for the previous one's
    garbage (the collector stays on while timing: real calls pay for it too)."""
    gc.collect()
    yield


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Scale:
    """The sizes and sample counts of one run."""

    quick: bool
    catalogue_sizes: tuple[int, ...]
    engine_samples: dict[int, int]
    oracle_samples: dict[int, int]
    request_sizes: tuple[int, ...]
    change_catalogue: int
    change_samples: dict[int, int]
    bundle_samples: int
    bundle_cap: int
    change_oracle_samples: dict[int, int]
    oracle_reevaluation_cap: int
    memory_size: int
    refresh_samples: int
    write_requests: int
    write_samples: int

    @classmethod
    def of(cls, quick: bool) -> Scale:
        # (The engine's samples cover the whole request pool at least once: the oracle's
        # requests are compared with the engine's timings of the same requests.)
        if quick:
            return cls(
                quick=True,
                catalogue_sizes=(1_000, 10_000),
                engine_samples={1_000: 100, 10_000: 100},
                oracle_samples={1_000: 10, 10_000: 3},
                request_sizes=(10_000,),
                change_catalogue=1_000,
                change_samples={10_000: 10},
                bundle_samples=3,
                bundle_cap=200,
                change_oracle_samples={10_000: 2},
                oracle_reevaluation_cap=50,
                memory_size=10_000,
                refresh_samples=100,
                write_requests=2_000,
                write_samples=2,
            )
        return cls(
            quick=False,
            catalogue_sizes=(1_000, 10_000, 100_000),
            engine_samples={1_000: 500, 10_000: 300, 100_000: 200},
            oracle_samples={1_000: 50, 10_000: 10, 100_000: 2},
            request_sizes=(10_000, 100_000),
            change_catalogue=1_000,
            change_samples={10_000: 40, 100_000: 20},
            bundle_samples=10,
            bundle_cap=1_000,
            change_oracle_samples={10_000: 5, 100_000: 3},
            oracle_reevaluation_cap=200,
            memory_size=100_000,
            refresh_samples=500,
            write_requests=10_000,
            write_samples=5,
        )


@dataclass
class World:
    """What the generator drew, as snapshots and as facts."""

    seed: int
    today: date
    fx: FxTable
    config: ScoringConfig
    priority: frozenset[str]
    product_snapshots: list[events.ProductSnapshot]
    products: list[Product]
    exporters: list[events.ExporterSnapshot]
    profiles: dict[UUID, Profile]
    request_snapshots: list[events.FinancingRequestSnapshot]
    requests: list[Request]
    changes: list[events.ProductSnapshot]
    bundle_changes: list[events.ProductSnapshot]

    def pair(self, i: int) -> tuple[Request, Profile]:
        request = self.requests[i]
        return request, self.profiles[request.exporter_id]

    def strategic(self, request: Request, profile: Profile) -> bool:
        return is_strategic(request, profile, self.priority)


def build_world(seed: int, scale: Scale, today: date) -> World:
    fx = fx_table()
    generator = Generator(seed, today)
    size = max(scale.catalogue_sizes)
    log(f"drawing {size:,} products")
    product_snapshots = [generator.product(i) for i in range(size)]
    products = [Product.of(s, fx) for s in product_snapshots]
    requests_needed = max(scale.request_sizes)
    log(f"drawing {requests_needed:,} open requests of {requests_needed // 2:,} exporters")
    exporters = [generator.exporter(i) for i in range(requests_needed // 2)]
    request_snapshots = [
        generator.request(exporters[i % len(exporters)]) for i in range(requests_needed)
    ]
    changes: list[events.ProductSnapshot] = []
    bundle_changes: list[events.ProductSnapshot] = []
    number = size
    wanted = {False: max(scale.change_samples.values()), True: scale.bundle_samples}
    while len(changes) < wanted[False] or len(bundle_changes) < wanted[True]:
        snapshot = generator.product(number)
        number += 1
        bundle = snapshot.instrument in (GUARANTEE, INSURANCE)
        kind = bundle_changes if bundle else changes
        if len(kind) < wanted[bundle]:
            kind.append(snapshot)
    config = ScoringConfig()
    return World(
        seed=seed,
        today=today,
        fx=fx,
        config=config,
        priority=strategic_countries(config.priority_blocs),
        product_snapshots=product_snapshots,
        products=products,
        exporters=exporters,
        profiles={e.id: Profile.of(e) for e in exporters},
        request_snapshots=request_snapshots,
        requests=[Request.of(s, fx) for s in request_snapshots],
        changes=changes,
        bundle_changes=bundle_changes,
    )


def catalogue_index(products: Sequence[Product]) -> ProductIndex:
    index = ProductIndex()
    for product in products:
        index.upsert(product)
    return index


# ---- 1. one request against the catalogue ------------------------------------------------------

#: Requests evaluated in turn (the samples cycle over them).
REQUEST_POOL = 100
NEAREST = 50


def bench_request(world: World, scale: Scale) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pairs = [world.pair(i) for i in range(REQUEST_POOL)]
    flags = [world.strategic(r, p) for r, p in pairs]
    for size in scale.catalogue_sizes:
        products = world.products[:size]
        index = catalogue_index(products)
        for (request, profile), strategic in zip(pairs, flags, strict=True):
            evaluation = index.evaluate(request, profile, world.today, world.config, strategic)
            evaluation.matches()
            evaluation.nearest_misses(NEAREST)
        total: list[float] = []
        evaluate_only: list[float] = []
        every_match: list[float] = []
        in_scope: list[int] = []
        matched: list[int] = []
        log(f"one request against {size:,} products: engine")
        with quiet_gc():
            for k in range(scale.engine_samples[size]):
                (request, profile), strategic = pairs[k % REQUEST_POOL], flags[k % REQUEST_POOL]
                start = time.perf_counter()
                evaluation = index.evaluate(request, profile, world.today, world.config, strategic)
                evaluated = time.perf_counter()
                # The engine's answer: every match ranked (as positions), the first page of
                # matches and the nearest misses as objects.
                order = evaluation.match_order()
                evaluation.matches_in(order[:NEAREST])
                evaluation.nearest_misses(NEAREST)
                end = time.perf_counter()
                # Every match as an object too (what a caller that keeps them all pays more).
                evaluation.matches_in(order[NEAREST:])
                materialised = time.perf_counter()
                total.append(ms(end - start))
                evaluate_only.append(ms(evaluated - start))
                every_match.append(ms(materialised - start))
                in_scope.append(len(evaluation))
                matched.append(int(order.size))
        oracle_times: list[float] = []
        engine_same: list[float] = []
        log(f"one request against {size:,} products: oracle")
        samples = scale.oracle_samples[size]
        with quiet_gc():
            # Requests spread over the pool; the engine's time for the same ones is kept.
            for k in range(samples):
                at = k * REQUEST_POOL // samples
                (request, profile), strategic = pairs[at], flags[at]
                engine_same.append(total[at])
                start = time.perf_counter()
                outcomes = oracle.evaluate(
                    products, request, profile, world.today, world.config, strategic
                )
                expected_matches, expected_misses = ranked(outcomes)
                oracle_times.append(ms(time.perf_counter() - start))
                # Both sides did the same work: the same answer.
                evaluation = index.evaluate(request, profile, world.today, world.config, strategic)
                assert evaluation.matches() == expected_matches
                assert evaluation.nearest_misses(NEAREST) == expected_misses[:NEAREST]
        engine = Figure(total)
        reference = Figure(
            oracle_times,
            note=f"{len(oracle_times)} samples"
            + (" (fewer: the oracle is slow)" if len(oracle_times) < len(total) else ""),
        )
        out[str(size)] = {
            "products": size,
            "engine": engine.as_json(),
            "engine_evaluate_only": Figure(evaluate_only).as_json(),
            "engine_every_match_materialised": Figure(
                every_match, note="engine, then every other match built as an Outcome"
            ).as_json(),
            "oracle": reference.as_json(),
            "speedup_p50": round(reference.p50 / engine.p50, 1),
            "speedup_same_requests_p50": round(reference.p50 / Figure(engine_same).p50, 1),
            "in_scope": counts(in_scope),
            "matches": counts(matched),
        }
    return out


# ---- 2. one product change against the open requests -------------------------------------------


def request_index(world: World, size: int) -> RequestIndex:
    index = RequestIndex()
    for i in range(size):
        index.upsert(*world.pair(i))
    return index


def oracle_screen(
    product: Product, pairs: Sequence[tuple[Request, Profile]], today: date
) -> tuple[list[UUID], list[UUID]]:
    """`RequestIndex.screen`, one request at a time with the oracle's own rules."""
    fits: list[UUID] = []
    clean: list[UUID] = []
    for request, profile in pairs:
        _, failed, missing = oracle.masks(oracle.check(product, request, profile, today))
        if product.instrument in request.instruments and failed & ~BUNDLE_RULES == 0:
            fits.append(request.id)
        if failed == 0 and missing == 0:
            clean.append(request.id)
    return fits, clean


def oracle_bundled_into(bundle: Product, products: Sequence[Product]) -> frozenset[str]:
    """`ProductIndex.bundled_into`, one product at a time."""
    out: set[str] = set()
    for p in products:
        if bundle.instrument == GUARANTEE:
            partners = bundle.partner_provider_ids
            if (
                p.requires_guarantee
                and p.instrument in bundle.covers_instruments
                and (not partners or p.provider_id in partners)
            ):
                out.add(p.instrument)
        elif bundle.instrument == INSURANCE and p.requires_insurance:
            out.add(p.instrument)
    return frozenset(out)


def reevaluate(
    world: World, catalogue: ProductIndex, request_ids: Sequence[UUID], by_id: dict[UUID, int]
) -> None:
    """What the engine does for each affected request: evaluate it, rank its matches and find
    its nearest misses."""
    for request_id in request_ids:
        request, profile = world.pair(by_id[request_id])
        evaluation = catalogue.evaluate(
            request, profile, world.today, world.config, world.strategic(request, profile)
        )
        evaluation.matches()
        evaluation.nearest_misses(NEAREST)


def oracle_reevaluate(
    world: World, products: list[Product], request_ids: Sequence[UUID], by_id: dict[UUID, int]
) -> None:
    for request_id in request_ids:
        request, profile = world.pair(by_id[request_id])
        strategic = world.strategic(request, profile)
        ranked(oracle.evaluate(products, request, profile, world.today, world.config, strategic))


def kept_of(
    world: World, catalogue: ProductIndex, request_id: UUID, by_id: dict[UUID, int]
) -> Kept:
    """A request's evaluation as its match set keeps it: every match, the nearest misses."""
    request, profile = world.pair(by_id[request_id])
    evaluation = catalogue.evaluate(
        request, profile, world.today, world.config, world.strategic(request, profile)
    )
    return Kept(
        tuple(evaluation.matches()),
        tuple(evaluation.nearest_misses(NEAREST)),
        evaluation.excluded_total,
    )


@dataclass
class ChangeSeries:
    """The engine's figures over a series of product changes."""

    screen: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    merge: list[float] = field(default_factory=list)
    in_full_each: list[float] = field(default_factory=list)
    affected: list[int] = field(default_factory=list)
    fits: list[int] = field(default_factory=list)
    in_full: int = 0
    checked: int = 0
    scaled: bool = False


def _engine_changes(
    world: World,
    requests: RequestIndex,
    catalogue: ProductIndex,
    changed: list[Product],
    cap: int | None,
    by_id: dict[UUID, int],
) -> ChangeSeries:
    """Each change timed as the engine handles it. A financing product: upsert, screen, then
    its outcome for every affected request in one pass (`RequestIndex.outcomes_of`): the engine
    part; merging each outcome into the request's kept set is timed apart (`merge`), with the
    requests the merge cannot settle evaluated in full. A guarantee or insurance product:
    upsert, screen, then every affected request evaluated in full (at most `cap` of them
    timed, and scaled)."""
    out = ChangeSeries()
    kept: dict[UUID, Kept] = {}
    for product in changed:
        if not product.is_bundle_product:
            # The sets as they stand before the change (computed untimed, once per request).
            found = requests.screen(product, world.today).fits
            for request_id in found:
                if request_id not in kept:
                    kept[request_id] = kept_of(world, catalogue, request_id, by_id)
        start = time.perf_counter()
        catalogue.upsert(product)
        # As `affected_by_product` does: a bundle product's clean requests count only where
        # they ask for an instrument it could be bundled with.
        scope = catalogue.bundled_into(product) if product.is_bundle_product else None
        screening = requests.screen(product, world.today, scope)
        affected = set(screening.fits)
        if scope is not None:
            affected.update(screening.clean)
        screened = time.perf_counter()
        if product.is_bundle_product:
            chosen = sorted(affected)[:cap] if cap is not None else list(affected)
            reevaluate(world, catalogue, chosen, by_id)
            end = time.perf_counter()
            # Scaled to every affected request when only a cap of them was timed.
            share = len(affected) / len(chosen) if chosen else 1.0
            out.scaled = out.scaled or share > 1.0
            out.total.append(ms(screened - start + (end - screened) * share))
        else:
            # (A financing product affects the requests it fits: the screen's rows.)
            outcomes = requests.outcomes_of(
                product, screening.fit_rows, catalogue, world.today, world.config, world.priority
            )
            end = time.perf_counter()
            merged_sets, in_full = merge_all(world, catalogue, kept, product, outcomes, by_id)
            merged_end = time.perf_counter()
            out.total.append(ms(end - start))
            out.merge.append(ms(merged_end - end))
            out.in_full += in_full
            # The way before the merge, on the same change: screen, then every affected
            # request evaluated in full (at most FULL_CAP of them timed, and scaled).
            ids = outcomes.request_ids
            chosen = ids[:FULL_CAP]
            full_start = time.perf_counter()
            reevaluate(world, catalogue, chosen, by_id)
            share = len(ids) / len(chosen) if chosen else 1.0
            out.in_full_each.append(
                ms(screened - start + (time.perf_counter() - full_start) * share)
            )
            # The merged sets are what a full re-evaluation gives (checked on a few, untimed).
            for request_id in ids[:20]:
                assert merged_sets[request_id] == kept_of(world, catalogue, request_id, by_id)
                out.checked += 1
        catalogue.remove(product.id)
        out.screen.append(ms(screened - start))
        out.affected.append(len(affected))
        out.fits.append(len(screening.fits))
    return out


#: Affected requests evaluated in full per change, for the figure of the way before the merge.
FULL_CAP = 200


def merge_all(
    world: World,
    catalogue: ProductIndex,
    kept: dict[UUID, Kept],
    product: Product,
    outcomes: ProductOutcomes,
    by_id: dict[UUID, int],
) -> tuple[dict[UUID, Kept], int]:
    """Each affected request's kept set with the product's new outcome merged in (a newly
    published product: it had none before); the requests the merge cannot settle are
    evaluated in full. Answers the sets and how many were evaluated in full."""
    out: dict[UUID, Kept] = {}
    in_full = 0
    for request_id, outcome in outcomes.outcomes().items():
        merged_set = merged(kept[request_id], product.id, None, outcome, NEAREST)
        if merged_set is None:
            merged_set = kept_of(world, catalogue, request_id, by_id)
            in_full += 1
        out[request_id] = merged_set
    return out, in_full


def _oracle_changes(
    world: World,
    scale: Scale,
    size: int,
    changed: list[Product],
    catalogue_products: list[Product],
    by_id: dict[UUID, int],
) -> tuple[list[float], list[float], bool]:
    """The oracle's screen (its per-row check), then the same work as the engine's per affected
    request, timed on at most a cap of them and scaled: for a financing product, its outcome
    alone (the oracle evaluating it with the catalogue's bundle products); for a guarantee or
    an insurance product, the whole catalogue."""
    pairs = [world.pair(i) for i in range(size)]
    screens: list[float] = []
    totals: list[float] = []
    capped = False
    bundles = [p for p in catalogue_products if p.is_bundle_product]
    for product in changed[: scale.change_oracle_samples[size]]:
        start = time.perf_counter()
        fits, clean = oracle_screen(product, pairs, world.today)
        affected_ids = set(fits)
        if product.is_bundle_product:
            scope = oracle_bundled_into(product, [*catalogue_products, product])
            affected_ids |= {r for r in clean if world.requests[by_id[r]].instruments & scope}
        screened = time.perf_counter()
        chosen = sorted(affected_ids)[: scale.oracle_reevaluation_cap]
        capped = capped or len(chosen) < len(affected_ids)
        evaluate_start = time.perf_counter()
        if product.is_bundle_product:
            oracle_reevaluate(world, [*catalogue_products, product], chosen, by_id)
        else:
            oracle_reevaluate(world, [product, *bundles], chosen, by_id)
        per_request = (time.perf_counter() - evaluate_start) / max(len(chosen), 1)
        screens.append(ms(screened - start))
        totals.append(ms(screened - start + per_request * len(affected_ids)))
    return screens, totals, capped


def bench_change(world: World, scale: Scale) -> dict[str, Any]:
    out: dict[str, Any] = {}
    catalogue_products = world.products[: scale.change_catalogue]
    by_id = {r.id: i for i, r in enumerate(world.requests)}
    for size in scale.request_sizes:
        requests = request_index(world, size)
        result: dict[str, Any] = {"open_requests": size, "catalogue": scale.change_catalogue}
        kinds = (
            ("product", world.changes[: scale.change_samples[size]], None),
            ("bundle", world.bundle_changes[: scale.bundle_samples], scale.bundle_cap),
        )
        for label, snapshots, cap in kinds:
            catalogue = catalogue_index(catalogue_products)
            changed = [Product.of(s, world.fx) for s in snapshots]
            log(f"one {label} change against {size:,} open requests: engine")
            with quiet_gc():
                series = _engine_changes(world, requests, catalogue, changed, cap, by_id)
            log(f"one {label} change against {size:,} open requests: oracle")
            with quiet_gc():
                oracle_screens, oracle_totals, capped = _oracle_changes(
                    world, scale, size, changed, catalogue_products, by_id
                )
            engine_same = series.total[: len(oracle_totals)]
            engine_screen = Figure(series.screen)
            if label == "product":
                note = (
                    "upsert + screen + the product's outcome for every affected request in one"
                    " pass (RequestIndex.outcomes_of); the merge into each set is apart"
                )
            elif series.scaled:
                note = (
                    f"upsert + screen + every affected request evaluated in full; re-evaluation"
                    f" timed on at most {cap} affected requests per change and scaled to all"
                )
            else:
                note = "upsert + screen + every affected request evaluated in full"
            engine_total = Figure(series.total, note=note)
            oracle_note = f"{len(oracle_screens)} samples"
            if capped:
                oracle_note += (
                    f"; the per-request part timed on at most {scale.oracle_reevaluation_cap}"
                    " affected requests per change and scaled to all of them"
                )
            reference_screen = Figure(oracle_screens, note=oracle_note)
            reference_total = Figure(oracle_totals, note=oracle_note)
            result[label] = {
                "changes": len(changed),
                "engine_screen": engine_screen.as_json(),
                "engine_total": engine_total.as_json(),
                "engine_total_scaled": series.scaled,
                "merge": Figure(
                    series.merge,
                    note="every affected request: the outcome as an object, merged into its "
                    "kept set (outcome.merged); the sets it cannot settle evaluated in full",
                ).as_json()
                if series.merge
                else None,
                "evaluated_in_full": series.in_full,
                "engine_total_every_request_in_full": Figure(
                    series.in_full_each,
                    note=f"the same changes, upsert + screen + every affected request evaluated "
                    f"in full (the way before outcomes_of; at most {FULL_CAP} timed and scaled)",
                ).as_json()
                if series.in_full_each
                else None,
                "merges_checked_against_full_evaluation": series.checked,
                "oracle_screen": reference_screen.as_json(),
                "oracle_total": reference_total.as_json(),
                "speedup_screen_p50": round(reference_screen.p50 / engine_screen.p50, 1),
                # On the same changes as the oracle's (the changes differ in how many requests
                # they affect, so the p50 of the engine's whole series would not compare).
                "speedup_total_p50": round(reference_total.p50 / Figure(engine_same).p50, 1),
                "fits": counts(series.fits),
                "affected": counts(series.affected),
                "affected_share_p50": round(float(np.percentile(series.affected, 50)) / size, 4),
            }
        out[str(size)] = result
    return out


# ---- 3. the index's memory and its refresh --------------------------------------------------


def column_bytes(index: ProductIndex) -> dict[str, int]:
    return {name: int(array.nbytes) for name, array in index.col.items()}


def bench_memory(world: World, scale: Scale) -> dict[str, Any]:
    size = scale.memory_size
    products = world.products[:size]
    log(f"memory and refresh of a {size:,} product index")
    gc.collect()
    start = time.perf_counter()
    index = catalogue_index(products)
    build_seconds = time.perf_counter() - start
    del index
    gc.collect()
    tracemalloc.start()
    index = catalogue_index(products)
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The facts themselves (built before the index, and held by it for the explanations).
    gc.collect()
    tracemalloc.start()
    facts = [Product.of(s, world.fx) for s in world.product_snapshots[:size]]
    facts_retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del facts
    columns = column_bytes(index)
    memory = {
        "products": size,
        "capacity": index.capacity,
        "arrays_nbytes": index.nbytes(),
        "arrays_nbytes_per_product": round(index.nbytes() / size, 1),
        "largest_arrays": dict(sorted(columns.items(), key=lambda kv: -kv[1])[:6]),
        "tracemalloc_retained_bytes": retained,
        "tracemalloc_peak_bytes": peak,
        "facts_tracemalloc_bytes": facts_retained,
        "build_seconds": round(build_seconds, 3),
    }
    # Refresh: a new version of a product already held, as a product change brings it (new
    # pricing, a new maximum amount, a new decision time).
    rng = random.Random(world.seed)
    pairs = [world.pair(i) for i in range(REQUEST_POOL)]
    upserts: list[float] = []
    next_evaluations: list[float] = []
    steady: list[float] = []
    with quiet_gc():
        for k in range(scale.refresh_samples):
            position = rng.randrange(size)
            held, snapshot = products[position], world.product_snapshots[position]
            fresh = snapshot.model_copy(
                update={
                    "product_version": snapshot.product_version + 1,
                    "pricing": events.Pricing(
                        indicative_rate_pct=round(rng.uniform(3.5, 9.5), 2),
                        fees_pct=snapshot.pricing.fees_pct,
                        premium_pct=snapshot.pricing.premium_pct,
                    ),
                    "amount_max": None if snapshot.amount_max is None else snapshot.amount_max * 2,
                    "decision_days": rng.choice([5, 10, 30]),
                }
            )
            product = Product.of(fresh, world.fx)
            request, profile = pairs[k % REQUEST_POOL]
            strategic = world.strategic(request, profile)
            start = time.perf_counter()
            index.upsert(product)
            upserted = time.perf_counter()
            index.evaluate(request, profile, world.today, world.config, strategic)
            evaluated = time.perf_counter()
            index.evaluate(request, profile, world.today, world.config, strategic)
            again = time.perf_counter()
            upserts.append(ms(upserted - start))
            next_evaluations.append(ms(evaluated - upserted))
            steady.append(ms(again - evaluated))
            index.upsert(held)
    return {
        "memory": memory,
        "refresh": {
            "products": size,
            "upsert": Figure(upserts).as_json(),
            "first_evaluate_after_upsert": Figure(
                next_evaluations, note="rebuilds what the upsert invalidated"
            ).as_json(),
            "steady_evaluate": Figure(steady).as_json(),
        },
    }


# ---- 2b. a product change with its writes --------------------------------------------------------


def _projection_rows(world: World, size: int, catalogue: int) -> dict[str, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    products = [
        {
            "id": s.id,
            "provider_id": s.provider_id,
            "status": s.status,
            "product_version": s.product_version,
            "instrument": s.instrument,
            "snapshot": s.model_dump_json(),
            "aggregate_version": 1,
            "changed_seq": 0,
            "updated_at": now,
        }
        for s in world.product_snapshots[:catalogue]
    ]
    requests = world.request_snapshots[:size]
    owners = {r.exporter_id for r in requests}
    exporters = [
        {
            "id": e.id,
            "org": e.org,
            "status": e.status,
            "legal_name": e.legal_name,
            "region": e.region,
            "snapshot": e.model_dump_json(),
            "aggregate_version": 1,
            "changed_seq": 0,
            "updated_at": now,
        }
        for e in world.exporters
        if e.id in owners
    ]
    request_rows = [
        {
            "id": r.id,
            "exporter_id": r.exporter_id,
            "org": r.org,
            "region": r.region,
            "status": r.status,
            "snapshot": r.model_dump_json(),
            "aggregate_version": 1,
            "changed_seq": 0,
            "updated_at": now,
        }
        for r in requests
    ]
    return {
        "product_projection": products,
        "exporter_projection": exporters,
        "request_projection": request_rows,
    }


async def _bench_writes(world: World, scale: Scale, directory: Path) -> dict[str, Any]:
    size = scale.write_requests
    today = world.today
    runtime = ServiceRuntime(
        definition,
        database_url=f"sqlite+aiosqlite:///{directory}/matching.db",
        transport=InProcessBus(),
        settings=Settings(environment="development"),
    )
    try:
        log(f"with the writes: migrating an SQLite database, {size:,} open requests")
        await runtime.migrate()
        rows = _projection_rows(world, size, scale.change_catalogue)
        async with runtime.engine.begin() as connection:
            for table, values in rows.items():
                await connection.execute(insert(orm.metadata.tables[table]), values)
        matcher = Matcher.from_settings(get_matching_settings(), world.fx)
        start = time.perf_counter()
        async with runtime.uow() as uow:
            await matcher.sync(uow)
        load_seconds = time.perf_counter() - start
        assert len(matcher.requests) == size and len(matcher.products) == scale.change_catalogue

        # Every open request holds a match set before the change: those the changes will
        # touch are computed first (the others are never read by the change).
        changes = world.changes[: scale.write_samples]
        touched: set[UUID] = set()
        for snapshot in changes:
            touched.update(matcher.requests.screen(Product.of(snapshot, world.fx), today).fits)
        log(f"with the writes: computing the {len(touched):,} match sets the changes will touch")
        start = time.perf_counter()
        ordered = sorted(touched)
        for chunk in range(0, len(ordered), 500):
            async with runtime.uow() as uow:
                await matcher.sync(uow)
                await rematch(uow, matcher, ordered[chunk : chunk + 500])
                await uow.commit()
        initial_seconds = time.perf_counter() - start

        log(f"with the writes: {len(changes)} product changes")
        totals: list[float] = []
        parts: dict[str, list[float]] = {"project_and_sync": [], "affected": [], "rematch": []}
        parts["commit"] = []
        per_request: list[float] = []
        affected_counts: list[int] = []
        tallies: dict[str, int] = {}
        with quiet_gc():
            for snapshot in changes:
                envelope = Envelope.wrap(
                    snapshot,
                    producer="credit_products",
                    aggregate_id=str(snapshot.id),
                    aggregate_version=1,
                    correlation_id="bench",
                )
                async with runtime.uow() as uow:
                    start = time.perf_counter()
                    assert await uow.products.apply_event(envelope, snapshot)
                    seq = await uow.catalogue.bump()
                    await uow.products.mark_changed(snapshot.id, seq)
                    await matcher.sync(uow)
                    synced = time.perf_counter()
                    after = matcher.products.product(snapshot.id)
                    affected = await affected_by_product(
                        uow, matcher, snapshot.id, None, after, today
                    )
                    found = time.perf_counter()
                    # As the handler does: a financing product keeps the other entries.
                    keep = after is not None and not after.is_bundle_product
                    tally = await rematch(uow, matcher, affected, keep=keep)
                    rematched = time.perf_counter()
                    await uow.commit()
                    end = time.perf_counter()
                totals.append(ms(end - start))
                parts["project_and_sync"].append(ms(synced - start))
                parts["affected"].append(ms(found - synced))
                parts["rematch"].append(ms(rematched - found))
                parts["commit"].append(ms(end - rematched))
                affected_counts.append(len(affected))
                if affected:
                    per_request.append(ms(end - found) / len(affected))
                for outcome, number in tally.items():
                    tallies[outcome] = tallies.get(outcome, 0) + number
        return {
            "open_requests": size,
            "catalogue": scale.change_catalogue,
            "database": "SQLite (aiosqlite, WAL), migrated by the service's migrations",
            "initial_load_seconds": round(load_seconds, 3),
            "initial_compute": {
                "match_sets": len(ordered),
                "seconds": round(initial_seconds, 3),
                "ms_per_match_set": round(ms(initial_seconds) / max(len(ordered), 1), 3),
            },
            "total": Figure(
                totals, note="project the product, sync, affected_by_product, rematch, commit"
            ).as_json(),
            "parts": {name: Figure(values).as_json() for name, values in parts.items()},
            "ms_per_affected_request": Figure(per_request).as_json() if per_request else None,
            "affected": counts(affected_counts),
            "outcomes": tallies,
        }
    finally:
        await runtime.dispose()


def bench_writes(world: World, scale: Scale) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tasdir-bench-") as directory:
        return asyncio.run(_bench_writes(world, scale, Path(directory)))


# ---- the report ----------------------------------------------------------------------------------

TARGET_REQUEST_P99_MS = 5.0
TARGET_CHANGE_P99_MS = 50.0
TARGET_SPEEDUP = 50.0


def environment() -> dict[str, Any]:
    return {**common.environment(), "numpy": np.__version__}


_load = common.fmt_load


_n = common.fmt_n
_t = common.fmt_t
_x = common.fmt_x
_mib = common.fmt_mib
_rows = common.rows


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    request = result.get("request", {})
    if request:
        largest = max(request, key=int)
        figure = request[largest]
        out.append(
            {
                "target": f"one request vs {_n(int(largest))} products: p99 <= "
                f"{TARGET_REQUEST_P99_MS:g} ms",
                "measured": f"{_t(figure['engine']['p99_ms'])} ms",
                "passed": figure["engine"]["p99_ms"] <= TARGET_REQUEST_P99_MS,
            }
        )
        out.append(
            {
                "target": f"one request vs {_n(int(largest))} products: speed-up over the oracle "
                f">= {TARGET_SPEEDUP:g}x",
                "measured": _x(figure["speedup_p50"]),
                "passed": figure["speedup_p50"] >= TARGET_SPEEDUP,
            }
        )
    change = result.get("change", {})
    if change:
        largest = max(change, key=int)
        figure = change[largest]["product"]
        out.append(
            {
                "target": f"one product change vs {_n(int(largest))} open requests, engine part: "
                f"p99 <= {TARGET_CHANGE_P99_MS:g} ms",
                "measured": f"{_t(figure['engine_total']['p99_ms'])} ms",
                "passed": figure["engine_total"]["p99_ms"] <= TARGET_CHANGE_P99_MS,
            }
        )
        for key, what in (("speedup_screen_p50", "screen"), ("speedup_total_p50", "engine part")):
            out.append(
                {
                    "target": f"one product change vs {_n(int(largest))} open requests ({what}): "
                    f"speed-up over the oracle >= {TARGET_SPEEDUP:g}x",
                    "measured": _x(figure[key]),
                    "passed": figure[key] >= TARGET_SPEEDUP,
                }
            )
    return out


def table(result: dict[str, Any]) -> str:
    env = result["environment"]
    git = env["git"]
    commit = (git["commit"] or "unknown")[:10] + (" (uncommitted changes)" if git["dirty"] else "")
    lines = [
        f"Tasdir matching engine benchmark, {result['date']}, seed {result['seed']}"
        + (", QUICK run" if result["quick"] else ""),
        f"  {env['machine']['cpu']}, {env['machine']['cores']} cores; Python {env['python']}, "
        f"numpy {env['numpy']}, SQLite {env['sqlite']}; commit {commit}",
        f"  load average at start {_load(env.get('load_average'))}, at the end "
        f"{_load(env.get('load_average_end'))} (other processes share the machine when > 0)",
        "  times in ms; p50 and p99 over n samples; speed-up = oracle p50 / engine p50",
        "",
    ]
    request = result.get("request")
    if request:
        lines.append(
            "1. One request against the catalogue "
            "(engine: evaluate + every match ranked + the first 50 matches and the 50 nearest "
            "misses as objects; oracle: evaluate + ranked)"
        )
        rows = []
        for figure in request.values():
            engine, reference = figure["engine"], figure["oracle"]
            rows.append(
                [
                    _n(figure["products"]),
                    _n(figure["in_scope"]["p50"]),
                    _n(figure["matches"]["p50"]),
                    _t(figure["engine_evaluate_only"]["p50_ms"]),
                    _t(engine["p50_ms"]),
                    _t(engine["p99_ms"]),
                    _n(engine["n"]),
                    _t(figure["engine_every_match_materialised"]["p50_ms"]),
                    _t(figure["engine_every_match_materialised"]["p99_ms"]),
                    _t(reference["p50_ms"]),
                    _t(reference["p99_ms"]),
                    _n(reference["n"]),
                    _x(figure["speedup_p50"]),
                    _x(figure["speedup_same_requests_p50"]),
                ]
            )
        header = [
            "products",
            "in scope",
            "matches",
            "evaluate p50",
            "engine p50",
            "p99",
            "n",
            "all objects p50",
            "p99",
            "oracle p50",
            "p99",
            "n",
            "speed-up",
            "same req.",
        ]
        lines += _rows(header, rows)
        lines.append(
            "  (the oracle runs fewer samples than the engine, the fewer the larger the "
            "catalogue: n; 'same req.' compares the two on the oracle's requests only;"
            " 'all objects': the engine, then every other match built as an Outcome too)"
        )
        lines.append("")
    change = result.get("change")
    if change:
        first = next(iter(change.values()))
        lines.append(
            "2. One product change against the open requests, a catalogue of "
            f"{_n(first['catalogue'])} products. Engine: upsert + RequestIndex.screen + for a "
            "financing product its outcome for every affected request in one pass "
            "(outcomes_of), for a guarantee or insurance product every affected request "
            "evaluated in full. Merge: each outcome merged into the request's kept set. Oracle: "
            "per-row check + the same per-request work, one request at a time)"
        )
        rows = []
        for figure in change.values():
            for label in ("product", "bundle"):
                part = figure[label]
                star = "*" if part["engine_total_scaled"] else ""
                rows.append(
                    [
                        _n(figure["open_requests"]),
                        "financing" if label == "product" else "guar./ins.",
                        _n(part["fits"]["p50"]),
                        f"{_n(part['affected']['p50'])}/{_n(part['affected']['max'])}",
                        _t(part["engine_screen"]["p50_ms"]),
                        _t(part["engine_screen"]["p99_ms"]),
                        _t(part["engine_total"]["p50_ms"]) + star,
                        _t(part["engine_total"]["p99_ms"]) + star,
                        _n(part["engine_total"]["n"]),
                        _t(part["merge"]["p50_ms"]) if part.get("merge") else "-",
                        _t(part["merge"]["p99_ms"]) if part.get("merge") else "-",
                        _t(part["oracle_screen"]["p50_ms"]),
                        _t(part["oracle_total"]["p50_ms"]),
                        _n(part["oracle_total"]["n"]),
                        _x(part["speedup_screen_p50"]),
                        _x(part["speedup_total_p50"]),
                    ]
                )
        header = [
            "requests",
            "change",
            "fits",
            "affected p50/max",
            "screen p50",
            "p99",
            "engine p50",
            "p99",
            "n",
            "merge p50",
            "p99",
            "oracle screen",
            "oracle total",
            "n",
            "x screen",
            "x total",
        ]
        lines += _rows(header, rows)
        for figure in change.values():
            for label in ("product", "bundle"):
                part = figure[label]
                what = "financing" if label == "product" else "guarantee/insurance"
                lines.append(
                    f"  ({_n(figure['open_requests'])} requests, {what}: oracle "
                    f"{part['oracle_total']['note']})"
                )
                if part["engine_total_scaled"]:
                    lines.append(f"  (* engine: {part['engine_total']['note']})")
                before = part.get("engine_total_every_request_in_full")
                if before:
                    lines.append(
                        f"  ({_n(figure['open_requests'])} requests, {what}, the same changes "
                        f"with every affected request evaluated in full: p50 "
                        f"{_t(before['p50_ms'])}, p99 {_t(before['p99_ms'])} ms; merges that "
                        f"needed a full evaluation: {_n(part['evaluated_in_full'])}; merges "
                        f"checked equal to a full evaluation: "
                        f"{_n(part['merges_checked_against_full_evaluation'])})"
                    )
        lines.append(
            "  (a guarantee or insurance product affects the requests it passes cleanly that ask"
            " for an instrument it could be bundled with: affected_by_product)"
        )
        lines.append("")
    writes = result.get("writes")
    if writes:
        lines.append(
            f"2b. The same change with its writes: {_n(writes['open_requests'])} open requests, "
            f"{_n(writes['catalogue'])} products, SQLite through the service's unit of work"
        )
        rows = [
            [
                "total",
                _t(writes["total"]["p50_ms"]),
                _t(writes["total"]["p99_ms"]),
                _n(writes["total"]["n"]),
            ]
        ]
        rows += [
            [name, _t(figure["p50_ms"]), _t(figure["p99_ms"]), _n(figure["n"])]
            for name, figure in writes["parts"].items()
        ]
        per = writes["ms_per_affected_request"]
        if per:
            rows.append(
                ["per affected request", _t(per["p50_ms"]), _t(per["p99_ms"]), _n(per["n"])]
            )
        lines += _rows(["", "p50", "p99", "n"], rows)
        initial = writes["initial_compute"]
        lines.append(
            f"  affected per change: p50 {_n(writes['affected']['p50'])}, max "
            f"{_n(writes['affected']['max'])}; outcomes {writes['outcomes']}"
        )
        lines.append(
            f"  first load of the indexes (sync): {writes['initial_load_seconds']:.1f} s; "
            f"first compute of {_n(initial['match_sets'])} match sets: "
            f"{initial['ms_per_match_set']:.1f} ms each"
        )
        lines.append("")
    memory = result.get("memory")
    if memory:
        m, refresh = memory["memory"], memory["refresh"]
        lines.append(f"3. The catalogue index at {_n(m['products'])} products")
        lines.append(
            f"  numpy arrays: {_mib(m['arrays_nbytes'])} ({m['arrays_nbytes_per_product']:.0f} "
            f"bytes a product, capacity {_n(m['capacity'])} rows); tracemalloc of the build: "
            f"{_mib(m['tracemalloc_retained_bytes'])} retained, "
            f"{_mib(m['tracemalloc_peak_bytes'])} peak"
        )
        lines.append(
            f"  the Product facts it holds: {_mib(m['facts_tracemalloc_bytes'])}; "
            f"build: {m['build_seconds']:.2f} s"
        )
        rows = [
            [
                name.replace("_", " "),
                _t(refresh[name]["p50_ms"]),
                _t(refresh[name]["p99_ms"]),
                _n(refresh[name]["n"]),
            ]
            for name in ("upsert", "first_evaluate_after_upsert", "steady_evaluate")
        ]
        lines += _rows(["one product changes", "p50", "p99", "n"], rows)
        lines.append("")
    lines.append("Targets")
    rows = [
        [t["target"], t["measured"], "PASS" if t["passed"] else "FAIL"] for t in targets(result)
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    lines += [f"  {r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2]}" for r in rows]
    return "\n".join(lines)


PARTS: dict[str, Callable[[World, Scale], dict[str, Any]]] = {
    "request": bench_request,
    "change": bench_change,
    "memory": bench_memory,
    "writes": bench_writes,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="a small, fast run (also BENCH_QUICK=1)",
    )
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED", "2026")))
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"which parts to run, comma-separated (default: all of {','.join(PARTS)})",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {list(PARTS)}")
    scale = Scale.of(args.quick)
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    world = build_world(args.seed, scale, today)
    # The generated world is the benchmark's own scaffolding: frozen, so that the collections
    # triggered while timing do not walk its millions of objects.
    gc.collect()
    gc.freeze()
    result: dict[str, Any] = {
        "benchmark": "matching-engine",
        "date": today.isoformat(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": args.seed,
        "quick": scale.quick,
        "environment": environment(),
        "scale": {
            "catalogue_sizes": scale.catalogue_sizes,
            "open_request_sizes": scale.request_sizes,
            "change_catalogue": scale.change_catalogue,
            "memory_size": scale.memory_size,
            "write_requests": scale.write_requests if "writes" in parts else None,
        },
    }
    for part in parts:
        result[part] = PARTS[part](world, scale)
    result["targets"] = targets(result)
    if hasattr(os, "getloadavg"):
        result["environment"]["load_average_end"] = list(os.getloadavg())
    result["seconds"] = round(time.perf_counter() - started, 1)
    path = common.write_result(result, "engine", args.results)
    print(table(result))
    print(f"\n{result['seconds']:.0f} s; every figure in {common.shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
