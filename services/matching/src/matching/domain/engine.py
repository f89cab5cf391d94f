"""The columnar engine: the catalogue (and the open requests) as numpy columns, every hard rule
as one vectorised predicate.

- `ProductIndex` holds the published catalogue: HS chapters, countries, currencies, regions,
  payment terms and instruments as bitsets, bounds as integer arrays. `evaluate` answers one
  request against every product in one pass, bundles and scores included.
- `RequestIndex` holds the open requests with their exporters' profiles. `screen` answers one
  product against every open request: which requests it could now fit.

Both indexes are caches of the database projections, updated row by row as products and
requests change. The rules are written once (`_verdicts`) and broadcast either way: a column
of products against one request, or one product against a column of requests. The oracle
(`matching.domain.oracle`) is the per-row reference they are tested against.

Bitsets are stored word-major (`words x rows`), so that one word of every row is one
contiguous array.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date
from functools import cache, partial
from typing import TypeVar, cast
from uuid import UUID

import numpy as np
from numpy.typing import NDArray
from tasdir.reference import chapter_index, country_index, currency_codes, region_codes
from tasdir.reference.instruments import instruments as all_instruments

from matching.domain.facts import GUARANTEE, INSURANCE, Product, Profile, Request, is_strategic
from matching.domain.outcome import Outcome
from matching.domain.rules import (
    BUNDLE_RULES,
    COLLATERAL_SCALE,
    CONDITIONAL,
    ELIGIBLE,
    EXCLUDED,
    UNIT,
    Rule,
    ScoringConfig,
    all_in_cost_cp,
    ceiling_component,
    score_cp,
)

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Masks = NDArray[np.uint32]
Words = NDArray[np.uint64]
Objects = NDArray[np.object_]
Column = Bools | Ints | Floats | Masks | Words
C = TypeVar("C", Bools, Ints, Floats, Masks, Words)

#: `Outcome._make` without its length check: the columns zipped are exactly its fields.
_new_outcome = partial(tuple.__new__, Outcome)

PAYMENT_TERMS = ("advance", "lc", "documentary_collection", "open_account")
NONE = -1
_LAST = np.int64(1 << 62)
_ONE = np.uint64(1)


@dataclass(frozen=True)
class Universe:
    """Bit positions of the coded values. One position past the last means "unknown": a code
    this data version does not know, which no product sets."""

    countries: dict[str, int]
    chapters: dict[str, int]
    currencies: dict[str, int]
    regions: dict[str, int]
    instruments: dict[str, int]
    terms: dict[str, int]

    @staticmethod
    def words(codes: dict[str, int]) -> int:
        return len(codes) // 64 + 1

    @staticmethod
    def position(codes: dict[str, int], code: str) -> int:
        return codes.get(code, len(codes))

    def bitset(self, codes: dict[str, int], values: Iterable[str] | None) -> Words:
        """The words of a set of codes; an unknown code sets the "unknown" bit."""
        out = np.zeros(self.words(codes), np.uint64)
        for value in values or ():
            i = self.position(codes, value)
            out[i >> 6] |= _ONE << np.uint64(i & 63)
        return out

    def instrument_mask(self, codes: Iterable[str]) -> int:
        mask = 0
        for code in codes:
            if code in self.instruments:
                mask |= 1 << self.instruments[code]
        return mask


@cache
def universe() -> Universe:
    def ordered(codes: Iterable[str]) -> dict[str, int]:
        return {code: i for i, code in enumerate(sorted(codes))}

    return Universe(
        countries=dict(country_index()),
        chapters=dict(chapter_index()),
        currencies=ordered(currency_codes()),
        regions=ordered(region_codes()),
        instruments=ordered(i.code for i in all_instruments()),
        terms={t: i for i, t in enumerate(PAYMENT_TERMS)},
    )


def _opt(value: int | None, default: int = 0) -> int:
    return default if value is None else value


# ---- growable columns ----


class _Columns:
    """Named numpy columns with a row per key. A removed row is marked inactive and its slot
    reused. Scalars are 1-D; bitsets are `(words, capacity)`."""

    def __init__(self, spec: dict[str, tuple[type[np.generic], int]], capacity: int) -> None:
        self.capacity = max(capacity, 16)
        self.size = 0
        self.rows: dict[UUID, int] = {}
        self.keys: dict[int, UUID] = {}
        self.free: list[int] = []
        self.spec = spec
        self.col: dict[str, Column] = {}
        for name, (dtype, words) in spec.items():
            shape = (words, self.capacity) if words else (self.capacity,)
            self.col[name] = cast(Column, np.zeros(shape, dtype))
        self.active: Bools = np.zeros(self.capacity, np.bool_)

    def _slot(self, key: UUID) -> int:
        row = self.rows.get(key)
        if row is not None:
            return row
        if self.free:
            row = self.free.pop()
        else:
            if self.size == self.capacity:
                self._grow()
            row = self.size
            self.size += 1
        self.rows[key] = row
        self.keys[row] = key
        return row

    def _grow(self) -> None:
        extra = self.capacity
        for name, array in self.col.items():
            pad = np.zeros((*array.shape[:-1], extra), array.dtype)
            self.col[name] = cast(Column, np.concatenate([array, pad], axis=-1))
        self.active = np.concatenate([self.active, np.zeros(extra, np.bool_)])
        self.capacity += extra

    def _drop(self, key: UUID) -> int | None:
        row = self.rows.pop(key, None)
        if row is not None:
            self.keys.pop(row, None)
            self.active[row] = False
            self.free.append(row)
        return row

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def nbytes(self) -> int:
        """The memory of the columns (not of the facts kept beside them)."""
        return sum(a.nbytes for a in self.col.values()) + self.active.nbytes

    def view(self, name: str, kind: type[C]) -> C:
        """The used part of a column, typed."""
        del kind
        return cast(C, self.col[name][..., : self.size])


# ---- the rules, once, broadcast either way ----


@dataclass
class _ProductSide:
    present: Masks
    currencies: Words
    amount_min: Ints
    amount_min_ok: Bools
    amount_max: Ints
    amount_max_ok: Bools
    tenor_min: Ints
    tenor_max: Ints
    hs_include: Words
    hs_exclude: Words
    dest_include: Words
    dest_exclude: Words
    regions: Words
    min_turnover: Ints
    max_turnover: Ints
    min_export_turnover: Ints
    min_export_share: Floats
    min_years: Ints
    max_employees: Ints
    terms: Words
    min_collateral: Ints
    min_collateral_f: Floats
    valid_from: Ints
    valid_to: Ints


@dataclass
class _RequestSide:
    currency: Ints
    amount: Ints
    amount_ok: Bools
    amount_f: Floats
    tenor: Ints
    chapters: Words
    destination: Ints
    region: Ints
    terms: Ints
    turnover: Ints
    export_turnover: Ints
    export_share: Floats
    years: Ints
    employees: Ints
    audited: Bools
    collateral: Ints
    collateral_f: Floats
    missing: Masks


_PRODUCT_KINDS: dict[str, type[np.generic]] = {
    "present": np.uint32,
    "currencies": np.uint64,
    "amount_min": np.int64,
    "amount_min_ok": np.bool_,
    "amount_max": np.int64,
    "amount_max_ok": np.bool_,
    "tenor_min": np.int64,
    "tenor_max": np.int64,
    "hs_include": np.uint64,
    "hs_exclude": np.uint64,
    "dest_include": np.uint64,
    "dest_exclude": np.uint64,
    "regions": np.uint64,
    "min_turnover": np.int64,
    "max_turnover": np.int64,
    "min_export_turnover": np.int64,
    "min_export_share": np.float64,
    "min_years": np.int64,
    "max_employees": np.int64,
    "terms": np.uint64,
    "min_collateral": np.int64,
    "min_collateral_f": np.float64,
    "valid_from": np.int64,
    "valid_to": np.int64,
}
_REQUEST_KINDS: dict[str, type[np.generic]] = {
    "currency": np.int64,
    "amount": np.int64,
    "amount_ok": np.bool_,
    "amount_f": np.float64,
    "tenor": np.int64,
    "chapters": np.uint64,
    "destination": np.int64,
    "region": np.int64,
    "terms": np.int64,
    "turnover": np.int64,
    "export_turnover": np.int64,
    "export_share": np.float64,
    "years": np.int64,
    "employees": np.int64,
    "audited": np.bool_,
    "collateral": np.int64,
    "collateral_f": np.float64,
    "missing": np.uint32,
}


def _has_bit(words: Words, position: Ints) -> Bools:
    """Bit `position` of bitsets `words` (`words x rows`), broadcast: many rows and one
    position, or one row and many positions."""
    if words.shape[1] > 1 or position.shape[0] == 1:
        at = int(position[0])
        return cast(Bools, (words[at >> 6] & (_ONE << np.uint64(at & 63))) != 0)
    # One row: its bits as a table of booleans, looked up at every position in one gather.
    table = np.unpackbits(words[:, 0].astype("<u8").view(np.uint8), bitorder="little")
    return cast(Bools, table.view(np.bool_)[position])


def _any_outside(inner: Words, outer: Words) -> Bools:
    """Whether `inner` has a bit that `outer` lacks (per row, broadcast)."""
    acc = inner[0] & ~outer[0]
    for w in range(1, inner.shape[0]):
        acc = acc | (inner[w] & ~outer[w])
    return cast(Bools, acc != 0)


def _any_common(a: Words, b: Words) -> Bools:
    acc = a[0] & b[0]
    for w in range(1, a.shape[0]):
        acc = acc | (a[w] & b[w])
    return cast(Bools, acc != 0)


def _short_of_collateral(p: _ProductSide, r: _RequestSide) -> Bools:
    """`collateral / amount < min_collateral_pct / 100`, exactly.

    The products of centimes and millionths of a percent overflow 64-bit integers, so the test
    runs in floats, and the rows where the two sides are too close for floats to decide are
    settled again in Python's exact integers (a threshold met to the centime passes).
    """
    held = r.collateral_f * float(COLLATERAL_SCALE)
    needed = p.min_collateral_f * r.amount_f
    short = held < needed
    close = (np.abs(held - needed) <= 1e-9 * needed) & (held > 0) & (needed > 0)
    close &= (p.present & np.uint32(Rule.min_collateral.bit)) != 0
    for i in np.flatnonzero(close).tolist():
        pi = 0 if p.min_collateral.shape[0] == 1 else i
        ri = 0 if r.amount.shape[0] == 1 else i
        exact = int(r.collateral[ri]) * COLLATERAL_SCALE < int(p.min_collateral[pi]) * int(
            r.amount[ri]
        )
        short[i] = exact
    return short


#: Bytes of a reason mask that hold a rule.
_MASK_BYTES = max(Rule) // 8 + 1


def _bits(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def _verdicts(p: _ProductSide, r: _RequestSide, today: int) -> tuple[Masks, Masks, Masks]:
    """(present, failed, missing) for products x requests, one side being a single row. The
    bundle rules come out failed: the caller looks for bundles."""
    size = np.broadcast_shapes(p.present.shape, r.amount.shape)[0]
    checks: tuple[tuple[Rule, Bools], ...] = (
        (Rule.currency, ~_has_bit(p.currencies, r.currency)),
        (Rule.amount_min, ~r.amount_ok | ~p.amount_min_ok | (r.amount < p.amount_min)),
        (Rule.amount_max, ~r.amount_ok | ~p.amount_max_ok | (r.amount > p.amount_max)),
        (Rule.tenor_min, r.tenor < p.tenor_min),
        (Rule.tenor_max, r.tenor > p.tenor_max),
        (Rule.hs_chapters_include, _any_outside(r.chapters, p.hs_include)),
        (Rule.hs_chapters_exclude, _any_common(r.chapters, p.hs_exclude)),
        (Rule.destinations_include, ~_has_bit(p.dest_include, r.destination)),
        (Rule.destinations_exclude, _has_bit(p.dest_exclude, r.destination)),
        (Rule.region, ~_has_bit(p.regions, r.region)),
        (Rule.min_turnover, r.turnover < p.min_turnover),
        (Rule.max_turnover, r.turnover > p.max_turnover),
        (Rule.min_export_turnover, r.export_turnover < p.min_export_turnover),
        (Rule.min_export_share, r.export_share < p.min_export_share),
        (Rule.min_years_exporting, r.years < p.min_years),
        (Rule.max_employees, r.employees > p.max_employees),
        (Rule.payment_terms, ~_has_bit(p.terms, r.terms)),
        (Rule.audited_accounts, np.broadcast_to(~r.audited, size)),
        (Rule.min_collateral, ~r.amount_ok | _short_of_collateral(p, r)),
        (Rule.valid_from, today < p.valid_from),
        (Rule.valid_to, today > p.valid_to),
    )
    # The verdicts gather in one byte per row for each eight rules, then into the mask: bytes
    # are a quarter of the memory traffic of 32-bit masks, and a verdict is placed at its bit
    # by a multiplication (numpy vectorises it; a shift of bytes it does not, 10x slower).
    parts = [np.zeros(size, np.uint8) for _ in range(_MASK_BYTES)]
    for bit in _bits(BUNDLE_RULES):
        parts[bit >> 3] |= np.uint8(1 << (bit & 7))
    placed = np.empty(size, np.uint8)
    for rule, fails in checks:
        bit = int(rule)
        part = parts[bit >> 3]
        np.multiply(fails.view(np.uint8), np.uint8(1 << (bit & 7)), out=placed)
        np.bitwise_or(part, placed, out=part)
    failed: Masks = parts[0].astype(np.uint32)
    for i in range(1, _MASK_BYTES):
        failed |= parts[i].astype(np.uint32) << np.uint32(8 * i)
    missing = p.present & r.missing
    failed &= p.present & ~missing
    return np.broadcast_to(p.present, size), failed, missing


def _tiers(
    failed: Masks, missing: Masks, with_guarantee: Bools, with_insurance: Bools
) -> tuple[Masks, Masks, Ints]:
    """(bundled, failed, tier): the bundle rules met by the bundles found no longer fail."""
    bundled = with_guarantee.astype(np.uint32) << np.uint32(Rule.guarantee.value)
    bundled |= with_insurance.astype(np.uint32) << np.uint32(Rule.insurance.value)
    failed = failed & ~bundled
    tier = np.where(
        failed != 0, EXCLUDED, np.where((missing | bundled) != 0, CONDITIONAL, ELIGIBLE)
    )
    return bundled, failed, cast(Ints, tier)


def _product_side(index: _Columns) -> _ProductSide:
    used = {f.name: index.col[f.name][..., : index.size] for f in fields(_ProductSide)}
    return _ProductSide(**used)  # type: ignore[arg-type]


# ---- the catalogue ----


def _bitset_spec(codes: dict[str, int]) -> tuple[type[np.generic], int]:
    return (np.uint64, Universe.words(codes))


def _product_spec(u: Universe) -> dict[str, tuple[type[np.generic], int]]:
    widths = {
        "currencies": u.currencies,
        "hs_include": u.chapters,
        "hs_exclude": u.chapters,
        "dest_include": u.countries,
        "dest_exclude": u.countries,
        "regions": u.regions,
        "terms": u.terms,
    }
    spec: dict[str, tuple[type[np.generic], int]] = {
        name: (_bitset_spec(widths[name]) if name in widths else (kind, 0))
        for name, kind in _PRODUCT_KINDS.items()
    }
    spec.update(
        instrument=(np.int64, 0),
        provider=(np.int64, 0),
        rate=(np.int64, 0),
        one_off=(np.int64, 0),
        priced=(np.bool_, 0),
        cover=(np.int64, 0),
        days=(np.int64, 0),
        covers=_bitset_spec(u.instruments),
        open_partners=(np.bool_, 0),
        id_hi=(np.uint64, 0),
        id_lo=(np.uint64, 0),
        # The product ids themselves, to build outcomes without a Python lookup per row.
        ids=(np.object_, 0),
    )
    return spec


def present_mask(product: Product) -> int:
    """The rules a product sets."""
    mask = Rule.currency.bit
    for rule, is_set in (
        (Rule.amount_min, product.amount_min is not None),
        (Rule.amount_max, product.amount_max is not None),
        (Rule.tenor_min, product.tenor_min_days is not None),
        (Rule.tenor_max, product.tenor_max_days is not None),
        (Rule.hs_chapters_include, product.hs_include is not None),
        (Rule.hs_chapters_exclude, product.hs_exclude is not None),
        (Rule.destinations_include, product.countries_include is not None),
        (Rule.destinations_exclude, product.countries_exclude is not None),
        (Rule.region, product.regions is not None),
        (Rule.min_turnover, product.min_turnover_cents is not None),
        (Rule.max_turnover, product.max_turnover_cents is not None),
        (Rule.min_export_turnover, product.min_export_turnover_cents is not None),
        (Rule.min_export_share, product.min_export_share_pct is not None),
        (Rule.min_years_exporting, product.min_years_exporting is not None),
        (Rule.max_employees, product.max_employees is not None),
        (Rule.payment_terms, product.payment_terms is not None),
        (Rule.audited_accounts, product.requires_audited_accounts),
        (Rule.min_collateral, product.min_collateral_pct is not None),
        (Rule.guarantee, product.requires_guarantee),
        (Rule.insurance, product.requires_insurance),
        (Rule.valid_from, product.valid_from is not None),
        (Rule.valid_to, product.valid_to is not None),
    ):
        if is_set:
            mask |= rule.bit
    return mask


class ProductIndex(_Columns):
    """The published catalogue as columns, with the facts of each row for the explanations."""

    def __init__(self, capacity: int = 256) -> None:
        self.u = universe()
        super().__init__(_product_spec(self.u), capacity)
        self.facts: dict[int, Product] = {}
        self.providers: dict[UUID, int] = {}
        # Caches of the bundle products, dropped when a guarantee or an insurance product
        # changes (and only then): their rows in preference order, and the partner table.
        self._ranked: dict[str, Ints] = {}
        self._partners: tuple[Ints, Ints, Ints, Ints] | None = None
        # The partner keys of each guarantee's row (see `_partner_table`).
        self._partner_keys: dict[int, list[int]] = {}
        # Each row's rank in product id order, dropped when a product comes or goes.
        self._id_ranks: Ints | None = None

    def _bundles_changed(self, *products: Product | None) -> None:
        for product in products:
            if product is not None and product.is_bundle_product:
                self._ranked.pop(product.instrument, None)
                if product.instrument == GUARANTEE:
                    self._partners = None

    def upsert(self, product: Product) -> None:
        """Add a product, or replace the version held."""
        if product.id not in self.rows:
            self._id_ranks = None
        row = self._slot(product.id)
        self._bundles_changed(self.facts.get(row), product)
        u, c = self.u, self.col
        values: dict[str, int | float | bool] = {
            "present": present_mask(product),
            "instrument": u.position(u.instruments, product.instrument),
            "provider": self.providers.setdefault(product.provider_id, len(self.providers)),
            "amount_min": _opt(product.amount_min_cents),
            "amount_min_ok": product.amount_min_cents is not None,
            "amount_max": _opt(product.amount_max_cents),
            "amount_max_ok": product.amount_max_cents is not None,
            "tenor_min": _opt(product.tenor_min_days),
            "tenor_max": _opt(product.tenor_max_days),
            "min_turnover": _opt(product.min_turnover_cents),
            "max_turnover": _opt(product.max_turnover_cents),
            "min_export_turnover": _opt(product.min_export_turnover_cents),
            "min_export_share": product.min_export_share_pct or 0.0,
            "min_years": _opt(product.min_years_exporting),
            "max_employees": _opt(product.max_employees),
            "min_collateral": _opt(product.min_collateral_u),
            "min_collateral_f": float(_opt(product.min_collateral_u)),
            "valid_from": product.valid_from.toordinal() if product.valid_from else 0,
            "valid_to": product.valid_to.toordinal() if product.valid_to else 0,
            "rate": _opt(product.rate_u),
            "one_off": product.one_off_u,
            "priced": product.priced,
            "cover": _opt(product.cover_u),
            "days": _opt(product.decision_days, NONE),
            "open_partners": not product.partner_provider_ids,
            "id_hi": product.id.int >> 64,
            "id_lo": product.id.int & ((1 << 64) - 1),
        }
        for name, value in values.items():
            c[name][row] = value
        cast(Objects, c["ids"])[row] = product.id
        for name, codes, members in (
            ("currencies", u.currencies, product.currencies),
            ("hs_include", u.chapters, product.hs_include),
            ("hs_exclude", u.chapters, product.hs_exclude),
            ("dest_include", u.countries, product.countries_include),
            ("dest_exclude", u.countries, product.countries_exclude),
            ("regions", u.regions, product.regions),
            ("terms", u.terms, product.payment_terms),
            ("covers", u.instruments, product.covers_instruments),
        ):
            c[name][:, row] = u.bitset(codes, members)
        self.active[row] = True
        self.facts[row] = product
        if product.instrument == GUARANTEE:
            self._partner_keys[row] = self._keys_of(product)
        else:
            self._partner_keys.pop(row, None)

    def _keys_of(self, guarantee: Product) -> list[int]:
        """`instrument << 32 | bank` for every bank a guarantee names as its partner and every
        instrument it covers."""
        u = self.u
        keys: list[int] = []
        for partner in sorted(guarantee.partner_provider_ids):
            bank = self.providers.setdefault(partner, len(self.providers))
            for code in sorted(guarantee.covers_instruments):
                if code in u.instruments:
                    keys.append((u.instruments[code] << 32) | bank)
        return keys

    def remove(self, product_id: UUID) -> None:
        row = self._drop(product_id)
        if row is not None:
            self._id_ranks = None
            self._bundles_changed(self.facts.pop(row, None))
            self._partner_keys.pop(row, None)
            cast(Objects, self.col["ids"])[row] = None

    def product(self, product_id: UUID) -> Product | None:
        row = self.rows.get(product_id)
        return None if row is None else self.facts[row]

    def products(self) -> list[Product]:
        return list(self.facts.values())

    def bundled_into(self, bundle: Product) -> frozenset[str]:
        """The instruments of the catalogue's products that `bundle` (a guarantee or an
        insurance product) could be bundled with: those that require its kind, and for a
        guarantee, of an instrument it covers, from a bank among its partners (if it names
        any)."""
        if bundle.instrument == GUARANTEE:
            partners = bundle.partner_provider_ids
            return frozenset(
                p.instrument
                for p in self.facts.values()
                if p.requires_guarantee
                and p.instrument in bundle.covers_instruments
                and (not partners or p.provider_id in partners)
            )
        if bundle.instrument == INSURANCE:
            return frozenset(p.instrument for p in self.facts.values() if p.requires_insurance)
        return frozenset()

    # -- evaluation

    def evaluate(
        self,
        request: Request,
        profile: Profile,
        today: date,
        config: ScoringConfig,
        strategic: bool,
    ) -> Evaluation:
        """Every product in the request's scope, with its tier, reasons, bundle and score."""
        u = self.u
        side = _product_side(self)
        present, failed, missing = _verdicts(
            side, request_side([(request, profile)], u), today.toordinal()
        )
        active = self.active[: self.size]
        instrument = self.view("instrument", Ints)
        clean = active & ((failed | missing) == 0)
        # Whether each instrument position (and the "unknown" one past the last) is wanted.
        wanted = np.zeros(len(u.instruments) + 1, np.bool_)
        for code in request.instruments:
            if code in u.instruments:
                wanted[u.instruments[code]] = True
        in_scope = active & wanted[instrument]
        guarantee = self._guarantees(clean, in_scope & ((present & Rule.guarantee.bit) != 0))
        insurers = self._ranked_rows(INSURANCE)
        usable = np.flatnonzero(clean[insurers])
        insurance = int(insurers[usable[0]]) if usable.size else NONE
        rows = np.flatnonzero(in_scope)
        present, failed, missing = present[rows], failed[rows], missing[rows]
        guarantee = guarantee[rows]
        with_guarantee = guarantee >= 0
        with_insurance = ((present & Rule.insurance.bit) != 0) & (insurance >= 0)
        bundled, failed, tier = _tiers(failed, missing, with_guarantee, with_insurance)
        evaluation = Evaluation(
            index=self,
            rows=rows,
            tier=tier,
            present=present,
            failed=failed,
            missing=missing,
            bundled=bundled,
            guarantee=guarantee,
            insurance=np.where(with_insurance, insurance, NONE),
        )
        evaluation.score(request, config, strategic)
        return evaluation

    def id_ranks(self) -> Ints:
        """Each row's rank in product id order: the last tie-break of every ranking, as one
        small integer that packs into a sort key with the others."""
        if self._id_ranks is None:
            ranks = np.zeros(self.size, np.int64)
            rows = np.flatnonzero(self.active[: self.size])
            order = np.lexsort((self.view("id_lo", Words)[rows], self.view("id_hi", Words)[rows]))
            ranks[rows[order]] = np.arange(rows.size, dtype=np.int64)
            self._id_ranks = ranks
        assert self.size < 1 << _RANK_BITS, "the packed sort keys hold the rank of a row"
        return self._id_ranks

    def order(self, rows: Ints) -> Ints:
        """`rows` in bundle preference order: the highest cover, the lowest one-off cost, the
        quickest decision (none last), the product id."""
        days = self.view("days", Ints)[rows]
        days = np.where(days < 0, np.int64(1 << 30), days)
        keys = (
            self.view("id_lo", Words)[rows],
            self.view("id_hi", Words)[rows],
            days,
            self.view("one_off", Ints)[rows],
            -self.view("cover", Ints)[rows],
        )
        return cast(Ints, rows[np.lexsort(keys)])

    def _ranked_rows(self, instrument: str) -> Ints:
        """The rows of the products of a bundle instrument (guarantee or insurance), in
        preference order; kept until such a product changes."""
        ranked = self._ranked.get(instrument)
        if ranked is None:
            position = self.u.position(self.u.instruments, instrument)
            held = self.active[: self.size] & (self.view("instrument", Ints) == position)
            ranked = self._ranked[instrument] = self.order(np.flatnonzero(held))
        return ranked

    def _guarantees(self, clean: Bools, needing_mask: Bools) -> Ints:
        """For each product needing a guarantee, the row of the best guarantee it can bundle
        (or -1): one that covers its instrument, names its provider as a partner or names no
        partner, and passes its own rules.

        Guarantees are compared by their rank in preference order (`_ranked_rows`): the clean
        ones keep that order, so the lowest rank that qualifies is the best."""
        out = np.full(self.size, NONE, np.int64)
        needing = np.flatnonzero(needing_mask)
        if needing.size == 0:
            return out
        ranked = self._ranked_rows(GUARANTEE)
        usable = clean[ranked]
        candidate_ranks = np.flatnonzero(usable)
        if candidate_ranks.size == 0:
            return out
        candidates = ranked[candidate_ranks]
        covers = self.view("covers", Words)
        open_partners = self.view("open_partners", Bools)
        instrument = self.view("instrument", Ints)[needing]
        provider = self.view("provider", Ints)[needing]
        # Guarantees open to every bank: the best one per instrument, looked up by each product.
        open_best = np.full(len(self.u.instruments) + 1, _LAST, np.int64)
        open_candidates = open_partners[candidates]
        for position in np.flatnonzero(np.bincount(instrument)).tolist():
            bit = (covers[position >> 6, candidates] >> np.uint64(position & 63)) & _ONE
            hits = (bit != 0) & open_candidates
            first = int(np.argmax(hits))
            if hits[first]:
                open_best[position] = candidate_ranks[first]
        best = open_best[instrument]
        # Guarantees for named partner banks: the best one per (instrument, bank). The table
        # is sorted by key, then rank: the first usable entry of each key's run is its best.
        keys, ranks, distinct, starts = self._partner_table()
        usable_entries = np.flatnonzero(usable[ranks])
        if usable_entries.size:
            ends = np.append(starts[1:], keys.size)
            at = np.minimum(np.searchsorted(usable_entries, starts), usable_entries.size - 1)
            first_entry = usable_entries[at]
            key_best = np.where(
                (first_entry >= starts) & (first_entry < ends), ranks[first_entry], _LAST
            )
            wanted = (instrument << 32) | provider
            found = np.minimum(np.searchsorted(distinct, wanted), distinct.size - 1)
            best = np.minimum(best, np.where(distinct[found] == wanted, key_best[found], _LAST))
        hit = best < _LAST
        out[needing[hit]] = ranked[best[hit]]
        return out

    def guarantees_for(self, product: Product) -> Ints:
        """The rows of the guarantees `product` may be bundled with, in preference order: they
        cover its instrument, and name its provider as a partner or name none."""
        ranked = self._ranked_rows(GUARANTEE)
        position = self.u.position(self.u.instruments, product.instrument)
        covers = self.view("covers", Words)[position >> 6, ranked]
        usable = ((covers >> np.uint64(position & 63)) & _ONE) != 0
        usable &= self.view("open_partners", Bools)[ranked]
        bank = self.providers.get(product.provider_id)
        if bank is not None:
            keys, ranks, _, _ = self._partner_table()
            usable[ranks[keys == (position << 32) | bank]] = True
        return cast(Ints, ranked[usable])

    def side_of(self, row: int) -> _ProductSide:
        """The product columns of one row."""
        used = {f.name: self.col[f.name][..., row : row + 1] for f in fields(_ProductSide)}
        return _ProductSide(**used)  # type: ignore[arg-type]

    def _partner_table(self) -> tuple[Ints, Ints, Ints, Ints]:
        """(`instrument << 32 | bank`, rank of the guarantee in preference order) for every
        bank a guarantee names as its partner and every instrument it covers, sorted by key
        then rank, with the distinct keys and where each one's run starts; rebuilt after a
        guarantee changes."""
        if self._partners is None:
            held = [self._partner_keys[row] for row in self._ranked_rows(GUARANTEE).tolist()]
            keys = np.fromiter((k for row in held for k in row), np.int64)
            ranks = np.repeat(np.arange(len(held), dtype=np.int64), [len(row) for row in held])
            order = np.lexsort((ranks, keys))
            keys, ranks = keys[order], ranks[order]
            distinct, starts = np.unique(keys, return_index=True)
            self._partners = (keys, ranks, distinct, starts.astype(np.int64))
        return self._partners


def request_side(pairs: list[tuple[Request, Profile]], u: Universe) -> _RequestSide:
    """The request columns of `pairs` (a single pair for `ProductIndex.evaluate`)."""
    values = [request_values(request, profile, u) for request, profile in pairs]
    columns: dict[str, Column] = {}
    for name, kind in _REQUEST_KINDS.items():
        if name == "chapters":
            stacked = [cast(Words, v[name]) for v in values]
            columns[name] = (
                np.stack(stacked, axis=1)
                if stacked
                else np.zeros((Universe.words(u.chapters), 0), np.uint64)
            )
        else:
            columns[name] = cast(Column, np.asarray([v[name] for v in values], kind))
    return _RequestSide(**columns)  # type: ignore[arg-type]


def request_values(
    request: Request, profile: Profile, u: Universe
) -> dict[str, int | float | bool | Words]:
    """One request (with its exporter's profile) as the values of the request columns."""
    amount = request.amount_cents
    return {
        "currency": u.position(u.currencies, request.currency),
        "amount": _opt(amount),
        "amount_ok": amount is not None,
        "amount_f": float(_opt(amount)),
        "tenor": request.tenor_days,
        "chapters": u.bitset(u.chapters, request.hs_chapters),
        "destination": u.position(u.countries, request.destination),
        "region": u.position(u.regions, profile.region),
        "terms": u.position(u.terms, request.payment_terms),
        "turnover": _opt(profile.turnover_cents),
        "export_turnover": _opt(profile.export_turnover_cents),
        "export_share": profile.export_share_pct or 0.0,
        "years": _opt(profile.years_exporting),
        "employees": _opt(profile.employees),
        "audited": profile.audited_accounts is True,
        "collateral": _opt(profile.collateral_cents),
        "collateral_f": float(_opt(profile.collateral_cents)),
        "missing": profile_missing(profile),
    }


def profile_missing(profile: Profile) -> int:
    """The rules this profile cannot answer yet."""
    mask = 0
    for rule, answer in (
        (Rule.min_turnover, profile.turnover_cents),
        (Rule.max_turnover, profile.turnover_cents),
        (Rule.min_export_turnover, profile.export_turnover_cents),
        (Rule.min_export_share, profile.export_share_pct),
        (Rule.min_years_exporting, profile.years_exporting),
        (Rule.max_employees, profile.employees),
        (Rule.audited_accounts, profile.audited_accounts),
        (Rule.min_collateral, profile.collateral_cents),
    ):
        if answer is None:
            mask |= rule.bit
    return mask


@dataclass
class Verdicts:
    """Outcomes as columns, a row per pair of a product and a request: the tier, the masks of
    the rules set, failed, missing and met by a bundle, and the bundled rows (-1: none)."""

    tier: Ints
    present: Masks
    failed: Masks
    missing: Masks
    bundled: Masks
    guarantee: Ints
    insurance: Ints


@dataclass
class Evaluation(Verdicts):
    """One request against the catalogue: a row per product in the request's scope. The cost,
    components and score are computed for the matches only (`matched` gives their positions)."""

    index: ProductIndex
    rows: Ints
    matched: Ints | None = None
    cost: Ints | None = None
    priced: Bools | None = None
    components: Ints | None = None
    scores: Ints | None = None

    def score(self, request: Request, config: ScoringConfig, strategic: bool) -> None:
        """All-in cost, components and score of the matches."""
        ks = np.flatnonzero(self.tier != EXCLUDED)
        amount = request.amount_cents
        self.matched = ks
        self.cost, self.priced, self.components, self.scores = _score(
            self.index,
            self.rows[ks],
            self.index,
            self.guarantee[ks],
            self.insurance[ks],
            _Asked(float(_opt(amount)), amount is not None, request.tenor_days, strategic),
            self.tier[ks] == CONDITIONAL,
            config,
        )

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def excluded_total(self) -> int:
        return int(np.count_nonzero(self.tier == EXCLUDED))

    def _ids(self, rows: Ints) -> list[UUID | None]:
        """The product ids of `rows`, None where a row is -1."""
        ids = cast(Objects, self.index.col["ids"])
        held = rows >= 0
        if held.all():
            return cast(list[UUID | None], ids[rows].tolist())
        out = np.full(rows.size, None, np.object_)
        out[held] = ids[rows[held]]
        return cast(list[UUID | None], out.tolist())

    def _outcomes(self, ks: Ints) -> list[Outcome]:
        """The outcomes of the rows at positions `ks`, built column by column and zipped into
        tuples in one go."""
        assert self.matched is not None and self.cost is not None and self.priced is not None
        assert self.components is not None and self.scores is not None
        size = int(ks.size)
        tiers = self.tier[ks]
        costs: list[int | None] = [None] * size
        scores: list[int | None] = [None] * size
        components: list[tuple[int, ...] | None] = [None] * size
        at = np.flatnonzero(tiers != EXCLUDED)
        if at.size:
            # Positions among the matches, for the cost and score of the matched rows.
            ms = np.searchsorted(self.matched, ks[at])
            priced = self.priced[ms]
            matched_costs: list[int | None] = self.cost[ms].tolist()
            if not priced.all():
                for j in np.flatnonzero(~priced).tolist():
                    matched_costs[j] = None
            matched_scores: list[int | None] = self.scores[ms].tolist()
            # One tuple per row straight from the columns (faster than tuples of row lists).
            matched_components: list[tuple[int, ...] | None] = list(
                zip(*(column.tolist() for column in self.components[ms].T), strict=True)
            )
            if at.size == size:
                costs, scores, components = matched_costs, matched_scores, matched_components
            else:
                for j, cost, score, parts in zip(
                    at.tolist(), matched_costs, matched_scores, matched_components, strict=True
                ):
                    costs[j], scores[j], components[j] = cost, score, parts
        columns = zip(
            self._ids(self.rows[ks]),
            tiers.tolist(),
            self.present[ks].tolist(),
            self.failed[ks].tolist(),
            self.missing[ks].tolist(),
            self.bundled[ks].tolist(),
            self._ids(self.guarantee[ks]),
            self._ids(self.insurance[ks]),
            costs,
            scores,
            components,
            strict=True,
        )
        return cast(list[Outcome], list(map(_new_outcome, columns)))

    def outcomes(self) -> list[Outcome]:
        """Every product in scope, in catalogue order."""
        return self._outcomes(np.arange(len(self)))

    def match_order(self, limit: int | None = None) -> Ints:
        """Positions (among the matches) in rank order: by score, eligible before conditional,
        the lower cost, the product id; the first `limit` of them if given.

        The four keys pack into one integer (score, tier, cost, rank in id order), so that a
        page is one partial selection; a cost too large to pack is sorted key by key."""
        assert self.matched is not None and self.scores is not None
        assert self.cost is not None and self.priced is not None
        rows = self.rows[self.matched]
        tier = self.tier[self.matched]
        unpriced = (1 << _COST_BITS) - 1
        packable = (self.cost >= 0) & (self.cost < unpriced)
        if not (packable | ~self.priced).all():
            keys = (self.index.view("id_lo", Words)[rows], self.index.view("id_hi", Words)[rows])
            cost = np.where(self.priced, self.cost, _LAST)
            return cast(Ints, np.lexsort((*keys, cost, tier, -self.scores))[:limit])
        cost = np.where(self.priced, self.cost, unpriced)
        head = ((_MAX_SCORE - self.scores) << 1) | tier
        packed = (head << (_COST_BITS + _RANK_BITS)) | (cost << _RANK_BITS)
        return _smallest(packed | self.index.id_ranks()[rows], limit)

    def matches(self, limit: int | None = None) -> list[Outcome]:
        """The eligible and conditional products, ranked (the first `limit` of them if given):
        each one is built as a Python object, so a caller that shows a page asks for it."""
        return self.matches_in(self.match_order(limit))

    def matches_in(self, order: Ints) -> list[Outcome]:
        """The matches at positions `order` (of `match_order`), in that order."""
        assert self.matched is not None
        return self._outcomes(self.matched[order])

    def miss_order(self, limit: int | None = None, offset: int = 0) -> Ints:
        """Row positions of the excluded products, nearest first (the fewest failing or
        unanswered rules, then the product id), from `offset`, at most `limit` of them."""
        ks = np.flatnonzero(self.tier == EXCLUDED)
        misses = np.bitwise_count(self.failed[ks] | self.missing[ks]).astype(np.int64)
        ranks = self.index.id_ranks()[self.rows[ks]]
        return cast(Ints, ks[_smallest((misses << _RANK_BITS) | ranks, limit, offset)])

    def nearest_misses(self, limit: int, offset: int = 0) -> list[Outcome]:
        return self._outcomes(self.miss_order(limit, offset))

    def misses_after(self, after: tuple[int, UUID] | None, limit: int) -> list[Outcome]:
        """The excluded products that rank after `after` (a `miss_key`: the count of rules
        failed or unanswered, then the product id), nearest first, at most `limit`: a keyset
        page, stable while the catalogue moves."""
        ks = np.flatnonzero(self.tier == EXCLUDED)
        misses = np.bitwise_count(self.failed[ks] | self.missing[ks]).astype(np.int64)
        rows = self.rows[ks]
        hi = self.index.view("id_hi", Words)[rows]
        lo = self.index.view("id_lo", Words)[rows]
        if after is not None:
            count, product_id = after
            key_hi = np.uint64(product_id.int >> 64)
            key_lo = np.uint64(product_id.int & ((1 << 64) - 1))
            later = (misses > count) | (
                (misses == count) & ((hi > key_hi) | ((hi == key_hi) & (lo > key_lo)))
            )
            ks, misses, hi, lo = ks[later], misses[later], hi[later], lo[later]
        order = np.lexsort((lo, hi, misses))[:limit]
        return self._outcomes(cast(Ints, ks[order]))


#: Bits of the packed sort keys: a product's rank in id order, and an all-in cost.
_RANK_BITS = 28
_COST_BITS = 20
#: The highest score, in hundredths.
_MAX_SCORE = 100 * 100


def _smallest(keys: Ints, limit: int | None, offset: int = 0) -> Ints:
    """Positions of the smallest `keys` (distinct), in order, from `offset`, at most `limit`:
    a page selects its keys before it sorts them."""
    end = keys.size if limit is None else min(offset + limit, keys.size)
    if end <= 0:
        return np.zeros(0, np.int64)
    at = np.argpartition(keys, end - 1)[:end] if end < keys.size else np.arange(keys.size)
    return cast(Ints, at[np.argsort(keys[at])][offset:])


@dataclass(frozen=True)
class _Asked:
    """What a score reads of the requests: one value each, or a column."""

    amount_f: float | Floats
    amount_ok: bool | Bools
    tenor: int | Ints
    strategic: bool | Bools


def _score(
    products: ProductIndex,
    rows: Ints,
    catalogue: ProductIndex,
    guarantee: Ints,
    insurance: Ints,
    asked: _Asked,
    conditional: Bools,
    config: ScoringConfig,
) -> tuple[Ints, Bools, Ints, Ints]:
    """(all-in cost, priced, components, score) of matches: the products at `rows` of
    `products`, with the bundles at rows of `catalogue` (-1: none), for the requests `asked`."""
    has_g, has_i = guarantee >= 0, insurance >= 0
    g_rows, i_rows = np.where(has_g, guarantee, 0), np.where(has_i, insurance, 0)
    one_off_col = catalogue.view("one_off", Ints)
    priced_col = catalogue.view("priced", Bools)
    cover_col = catalogue.view("cover", Ints)
    one_off = (
        products.view("one_off", Ints)[rows]
        + np.where(has_g, one_off_col[g_rows], 0)
        + np.where(has_i, one_off_col[i_rows], 0)
    )
    priced = (
        products.view("priced", Bools)[rows]
        | (has_g & priced_col[g_rows])
        | (has_i & priced_col[i_rows])
    )
    rate = products.view("rate", Ints)[rows]
    cost = all_in_cost_cp(rate, one_off, asked.tenor)
    cost_part = np.where(priced, ceiling_component(cost, config.cost_ceiling_cp), 0)
    high = products.view("amount_max", Ints)[rows].astype(np.float64)
    present = products.view("present", Masks)[rows]
    bounded = ((present & Rule.amount_max.bit) != 0) & (high > 0) & asked.amount_ok
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.floor(asked.amount_f / np.where(bounded, high, 1.0) * 10000.0 + 0.5)
    fit = np.where(bounded, np.minimum(UNIT, ratio).astype(np.int64), config.amount_fit_unbounded)
    days = products.view("days", Ints)[rows]
    speed = np.where(days >= 0, ceiling_component(days, config.speed_ceiling_days), 0)
    cover = np.maximum(
        products.view("cover", Ints)[rows],
        np.maximum(np.where(has_g, cover_col[g_rows], 0), np.where(has_i, cover_col[i_rows], 0)),
    )
    strategic = np.broadcast_to(np.where(asked.strategic, UNIT, 0), rows.shape)
    components = np.stack(
        [cost_part, fit, speed, np.minimum(cover, UNIT), strategic], axis=1
    ).astype(np.int64)
    weighted = components @ np.asarray(config.weights, np.int64)
    penalty = np.where(conditional, config.conditional_penalty_pct, 0).astype(np.int64)
    return cost, priced, components, score_cp(weighted, penalty)


# ---- the open requests ----


def _request_spec(u: Universe) -> dict[str, tuple[type[np.generic], int]]:
    spec: dict[str, tuple[type[np.generic], int]] = {
        name: ((np.uint64, Universe.words(u.chapters)) if name == "chapters" else (kind, 0))
        for name, kind in _REQUEST_KINDS.items()
    }
    spec["instruments"] = (np.uint64, 0)
    # A new market for a mono-market exporter (the strategic fit that is not the bloc's).
    spec["new_market"] = (np.bool_, 0)
    spec["ids"] = (np.object_, 0)
    return spec


@dataclass(frozen=True)
class Screening:
    """One product against the open requests.

    - `fits`: the requests in the product's scope that it could fit: every rule passes, or
      waits for an answer, or waits for a bundle (whether a bundle exists is settled when the
      request is evaluated in full).
    - `clean`: the requests for which every rule of the product passes as it stands, in scope
      or not: those it can be bundled into when it is a guarantee or an insurance product.
    """

    fits: list[UUID]
    clean: list[UUID]
    #: The rows of `fits` in the request index (for `RequestIndex.outcomes_of`).
    fit_rows: Ints = field(default_factory=lambda: np.zeros(0, np.int64))


class RequestIndex(_Columns):
    """The open requests, each with its exporter's profile, as columns."""

    def __init__(self, capacity: int = 256) -> None:
        self.u = universe()
        super().__init__(_request_spec(self.u), capacity)
        self.by_exporter: dict[UUID, set[UUID]] = {}
        self.exporter_of: dict[UUID, UUID] = {}

    def upsert(self, request: Request, profile: Profile) -> None:
        row = self._slot(request.id)
        for name, value in request_values(request, profile, self.u).items():
            if name == "chapters":
                self.col[name][:, row] = value
            else:
                self.col[name][row] = value
        self.col["instruments"][row] = self.u.instrument_mask(request.instruments)
        self.col["new_market"][row] = is_strategic(request, profile, frozenset())
        cast(Objects, self.col["ids"])[row] = request.id
        self.active[row] = True
        self.exporter_of[request.id] = request.exporter_id
        self.by_exporter.setdefault(request.exporter_id, set()).add(request.id)

    def remove(self, request_id: UUID) -> None:
        row = self._drop(request_id)
        if row is None:
            return
        cast(Objects, self.col["ids"])[row] = None
        exporter = self.exporter_of.pop(request_id)
        held = self.by_exporter.get(exporter)
        if held is not None:
            held.discard(request_id)
            if not held:
                del self.by_exporter[exporter]

    def of_exporter(self, exporter_id: UUID) -> set[UUID]:
        return set(self.by_exporter.get(exporter_id, ()))

    def screen(
        self, product: Product, today: date, bundled_into: Iterable[str] | None = None
    ) -> Screening:
        """Which open requests the product could fit, and for which it passes every rule.
        `bundled_into` (for a guarantee or an insurance product: the instruments of the
        catalogue's products it could be bundled with) keeps in `clean` only the requests that
        ask for one of those instruments."""
        if self.size == 0:
            return Screening([], [])
        _, failed, missing = _verdicts(_one(product), self._side(), today.toordinal())
        active = self.active[: self.size]
        position = self.u.position(self.u.instruments, product.instrument)
        wanted = self.view("instruments", Words) & np.uint64(1 << position)
        fits = active & (wanted != 0) & ((failed & ~np.uint32(BUNDLE_RULES)) == 0)
        clean = active & ((failed | missing) == 0)
        if bundled_into is not None:
            scope = np.uint64(self.u.instrument_mask(bundled_into))
            clean &= (self.view("instruments", Words) & scope) != 0
        ids = cast(Objects, self.col["ids"])
        fit_rows = np.flatnonzero(fits)
        return Screening(
            fits=cast(list[UUID], ids[fit_rows].tolist()),
            clean=cast(list[UUID], ids[np.flatnonzero(clean)].tolist()),
            fit_rows=cast(Ints, fit_rows),
        )

    def rows_of(self, request_ids: Iterable[UUID]) -> Ints:
        """The rows of open requests in this index."""
        return np.fromiter((self.rows[r] for r in request_ids), np.int64)

    def _side(self, rows: Ints | None = None) -> _RequestSide:
        """The request columns, of every row or of `rows`."""
        used = {
            f.name: self.col[f.name][..., : self.size]
            if rows is None
            else self.col[f.name][..., rows]
            for f in fields(_RequestSide)
        }
        return _RequestSide(**used)  # type: ignore[arg-type]

    def outcomes_of(
        self,
        product: Product,
        rows: Ints,
        catalogue: ProductIndex,
        today: date,
        config: ScoringConfig,
        priority: frozenset[str],
    ) -> ProductOutcomes:
        """One product against the open requests at `rows` (`Screening.fit_rows`, `rows_of`),
        in one pass: for each request, the outcome the full evaluation gives that product
        (`ProductIndex.evaluate`), bundles from `catalogue` and score included. What a product
        change needs, without evaluating anything else."""
        side = self._side(rows)
        day = today.toordinal()
        present, failed, missing = _verdicts(_one(product), side, day)
        position = self.u.position(self.u.instruments, product.instrument)
        wanted = self.view("instruments", Words)[rows] & np.uint64(1 << position)
        scope = np.flatnonzero(wanted != 0)
        guarantee = np.full(rows.size, NONE, np.int64)
        insurance = np.full(rows.size, NONE, np.int64)
        if product.requires_guarantee:
            candidates = catalogue.guarantees_for(product)
            guarantee[scope] = self._first_clean(catalogue, candidates, rows[scope], day)
        if product.requires_insurance:
            candidates = catalogue._ranked_rows(INSURANCE)
            insurance[scope] = self._first_clean(catalogue, candidates, rows[scope], day)
        bundled, failed, tier = _tiers(failed, missing, guarantee >= 0, insurance >= 0)
        tier = np.where(wanted != 0, tier, NONE)
        matched = np.flatnonzero((tier == ELIGIBLE) | (tier == CONDITIONAL))
        destination = side.destination[matched]
        strategic = self.view("new_market", Bools)[rows[matched]] | _in_countries(
            priority, destination, self.u
        )
        single = _index_of(product)
        cost, priced, components, scores = _score(
            single,
            np.zeros(matched.size, np.int64),
            catalogue,
            guarantee[matched],
            insurance[matched],
            _Asked(
                side.amount_f[matched],
                side.amount_ok[matched],
                side.tenor[matched],
                strategic,
            ),
            tier[matched] == CONDITIONAL,
            config,
        )
        return ProductOutcomes(
            product_id=product.id,
            request_ids=cast(list[UUID], cast(Objects, self.col["ids"])[rows].tolist()),
            catalogue=catalogue,
            tier=tier,
            present=np.broadcast_to(present, rows.shape),
            failed=failed,
            missing=missing,
            bundled=bundled,
            guarantee=guarantee,
            insurance=insurance,
            matched=matched,
            cost=cost,
            priced=priced,
            components=components,
            scores=scores,
        )

    def _first_clean(self, catalogue: ProductIndex, candidates: Ints, rows: Ints, day: int) -> Ints:
        """For each request at `rows`, the first of `candidates` (catalogue rows, in preference
        order) whose every rule passes for it, or -1. The requests still without one are
        checked against each next candidate."""
        out = np.full(rows.size, NONE, np.int64)
        pending = np.arange(rows.size)
        for row in candidates.tolist():
            if pending.size == 0:
                break
            _, failed, missing = _verdicts(catalogue.side_of(row), self._side(rows[pending]), day)
            clean = (failed | missing) == 0
            out[pending[clean]] = row
            pending = pending[~clean]
        return out


def _in_countries(codes: frozenset[str], positions: Ints, u: Universe) -> Bools:
    """Whether each country position is one of `codes`."""
    table = np.zeros(len(u.countries) + 1, np.bool_)
    for code in codes:
        if code in u.countries:
            table[u.countries[code]] = True
    return cast(Bools, table[positions])


def _index_of(product: Product) -> ProductIndex:
    single = ProductIndex(capacity=1)
    single.upsert(product)
    return single


def _one(product: Product) -> _ProductSide:
    """The product columns of one product."""
    return _product_side(_index_of(product))


@dataclass
class ProductOutcomes(Verdicts):
    """One product against some open requests: a row per request, as `Evaluation` has a row per
    product. `tier` is -1 where the product is out of the request's scope; cost, components and
    score are computed for the matches only (`matched` gives their positions)."""

    product_id: UUID
    request_ids: list[UUID]
    catalogue: ProductIndex
    matched: Ints
    cost: Ints
    priced: Bools
    components: Ints
    scores: Ints

    def outcomes(self) -> dict[UUID, Outcome | None]:
        """Each request's outcome of the product (None: out of its scope), built column by
        column."""
        size = len(self.request_ids)
        costs: list[int | None] = [None] * size
        scores: list[int | None] = [None] * size
        components: list[tuple[int, ...] | None] = [None] * size
        for k, cost, priced, score, parts in zip(
            self.matched.tolist(),
            self.cost.tolist(),
            self.priced.tolist(),
            self.scores.tolist(),
            zip(*(column.tolist() for column in self.components.T), strict=True)
            if self.matched.size
            else (),
            strict=True,
        ):
            costs[k], scores[k], components[k] = (cost if priced else None), score, parts
        ids = np.full(len(self.catalogue.col["ids"]) + 1, None, np.object_)
        ids[:-1] = self.catalogue.col["ids"]
        rows = zip(
            [self.product_id] * size,
            self.tier.tolist(),
            self.present.tolist(),
            self.failed.tolist(),
            self.missing.tolist(),
            self.bundled.tolist(),
            ids[self.guarantee].tolist(),
            ids[self.insurance].tolist(),
            costs,
            scores,
            components,
            strict=True,
        )
        return {
            request_id: None if row[1] < 0 else _new_outcome(row)
            for request_id, row in zip(self.request_ids, rows, strict=True)
        }
