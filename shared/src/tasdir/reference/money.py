"""ISO 4217 currencies with their minor units, the reference FX table into MAD, and conversion."""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tasdir.reference._files import SourceMeta, parse_meta, read_packaged, read_path
from tasdir.reference.errors import FxRateUnavailable, ReferenceDataError, UnknownReferenceCode
from tasdir.reference.i18n import DEFAULT_LANG, LocalizedText

MAD = "MAD"

# Enough digits for any amount times any rate; rounding happens once, at the currency's quantum.
_ARITHMETIC = Context(prec=40, rounding=ROUND_HALF_EVEN)

# --- currencies --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency that amounts can be expressed in."""

    code: str
    numeric: str
    names: LocalizedText
    minor_units: int

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The currency's name in `lang` (en or fr)."""
        return self.names.get(lang)


@cache
def _currencies() -> tuple[SourceMeta, Mapping[str, Currency]]:
    import pycountry

    raw = read_packaged("currencies.json")
    meta = parse_meta(raw, "currencies.json")
    default = int(raw["default_minor_units"])
    exceptions: dict[str, int] = {k: int(v) for k, v in raw["minor_units_exceptions"].items()}
    excluded = frozenset(raw["not_applicable"])
    french = gettext.translation("iso4217", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    by_code: dict[str, Currency] = {}
    for entry in sorted(pycountry.currencies, key=lambda c: c.alpha_3):
        if entry.alpha_3 in excluded:
            continue
        by_code[entry.alpha_3] = Currency(
            code=entry.alpha_3,
            numeric=entry.numeric,
            names=LocalizedText(en=entry.name, fr=french.gettext(entry.name)),
            minor_units=exceptions.get(entry.alpha_3, default),
        )
    stray = sorted(set(exceptions) - set(by_code))
    if stray:
        raise ReferenceDataError(f"currencies.json: minor units for unknown currencies {stray}")
    return meta, MappingProxyType(by_code)


def currencies() -> tuple[Currency, ...]:
    """Every currency usable for amounts, ordered by code."""
    return tuple(_currencies()[1].values())


def currency_codes() -> frozenset[str]:
    """The set of ISO 4217 codes usable for amounts."""
    return frozenset(_currencies()[1])


def is_currency(code: object) -> bool:
    """Whether `code` is an ISO 4217 code usable for amounts (upper-case)."""
    return isinstance(code, str) and code in _currencies()[1]


def currency(code: str) -> Currency:
    """The currency of that code; `UnknownReferenceCode` otherwise."""
    try:
        return _currencies()[1][code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("currency", code) from None


def minor_units(code: str) -> int:
    """The number of decimals of the currency (ISO 4217 minor units)."""
    return currency(code).minor_units


def _as_decimal(amount: Decimal | int) -> Decimal:
    # Floats are refused: a binary float has already lost the cents it was meant to carry.
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"amounts are Decimal or int, not {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"amount {amount!r} is not a finite number")
    return value


def quantize(amount: Decimal | int, currency_code: str) -> Decimal:
    """`amount` rounded half-even to the currency's minor units."""
    quantum = Decimal(1).scaleb(-minor_units(currency_code))
    with localcontext(_ARITHMETIC):
        try:
            return _as_decimal(amount).quantize(quantum, rounding=ROUND_HALF_EVEN)
        except InvalidOperation as exc:
            raise ValueError(f"amount {amount!r} is too large to quantize") from exc


# --- FX ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FxTable:
    """Reference rates: units of `base` (MAD) per 1 unit of each foreign currency."""

    base: str
    rates: Mapping[str, Decimal]
    as_of: date
    source: str
    source_url: str
    indicative: bool
    version: str
    notes: tuple[str, ...]
    origin: str

    def has_rate(self, code: str) -> bool:
        """Whether the table can convert that currency."""
        return code == self.base or code in self.rates

    def rate(self, code: str) -> Decimal:
        """Units of `base` per 1 unit of `code`."""
        if code == self.base:
            return Decimal(1)
        if not is_currency(code):
            raise UnknownReferenceCode("currency", code)
        try:
            return self.rates[code]
        except KeyError:
            raise FxRateUnavailable(code, self.as_of) from None


def _fx_from_raw(raw: dict[str, Any], origin: str) -> FxTable:
    meta = parse_meta(raw, origin)
    indicative = raw["meta"].get("indicative")
    if not isinstance(indicative, bool):
        raise ReferenceDataError(f"{origin}: meta.indicative must be true or false")
    base = raw.get("base")
    if not is_currency(base):
        raise ReferenceDataError(f"{origin}: base {base!r} is not an ISO 4217 currency")
    rates_raw = raw.get("rates")
    if not isinstance(rates_raw, dict) or not rates_raw:
        raise ReferenceDataError(f"{origin}: rates must be a non-empty object")
    rates: dict[str, Decimal] = {}
    for code, value in rates_raw.items():
        if not is_currency(code) or code == base:
            raise ReferenceDataError(f"{origin}: {code!r} is not a foreign ISO 4217 currency")
        # Strings and JSON numbers both parse exactly (numbers are read as Decimal).
        try:
            rate = Decimal(value) if isinstance(value, str | int | Decimal) else None
        except InvalidOperation:
            rate = None
        if isinstance(value, bool) or rate is None or not rate.is_finite() or rate <= 0:
            raise ReferenceDataError(f"{origin}: the rate of {code} must be a positive number")
        rates[code] = rate
    return FxTable(
        base=str(base),
        rates=MappingProxyType(dict(sorted(rates.items()))),
        as_of=meta.as_of,
        source=meta.source,
        source_url=meta.source_url,
        indicative=indicative,
        version=meta.version,
        notes=meta.notes,
        origin=origin,
    )


@cache
def _load_fx(path: str | None) -> FxTable:
    if path is None:
        return _fx_from_raw(read_packaged("fx_mad.json"), "packaged fx_mad.json")
    return _fx_from_raw(read_path(Path(path)), path)


def fx_table(path: str | os.PathLike[str] | None = None) -> FxTable:
    """The reference FX table: from `path` (a replacement in the same JSON format, which the
    services take from `Settings.fx_table`, `TASDIR_FX_TABLE`), else the packaged one.

    Each source is read once per process (`clear_caches()` forgets them).
    """
    return _load_fx(None if path is None else str(Path(path).resolve()))


def convert(
    amount: Decimal | int,
    from_currency: str,
    to_currency: str,
    *,
    table: FxTable | None = None,
) -> Decimal:
    """`amount` in `from_currency` expressed in `to_currency`, rounded half-even to its minor units.

    The rate is `rate(from) / rate(to)` of `table` (the active reference table by default).
    """
    value = _as_decimal(amount)
    minor_units(from_currency)  # validates the source currency even for a same-currency call
    if from_currency == to_currency:
        return quantize(value, to_currency)
    fx = table if table is not None else fx_table()
    with localcontext(_ARITHMETIC):
        in_base = value * fx.rate(from_currency)
        converted = in_base / fx.rate(to_currency)
    return quantize(converted, to_currency)


def to_mad(amount: Decimal | int, currency_code: str, *, table: FxTable | None = None) -> Decimal:
    """`amount` in `currency_code` expressed in MAD, rounded half-even to 2 decimals."""
    return convert(amount, currency_code, MAD, table=table)
