"""The instrument taxonomy: families, instruments, their rules, and what a request covers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from tasdir.reference._files import SourceMeta, parse_meta, read_packaged
from tasdir.reference.errors import (
    InstrumentNotRequestable,
    ReferenceDataError,
    UnknownReferenceCode,
)
from tasdir.reference.i18n import DEFAULT_LANG, LocalizedText

#: A request may name this instead of an instrument or a family.
ANY = "any"


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """Uniform rules an instrument follows (e.g. `UCP 600`)."""

    code: str
    title: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """A kind of trade-finance product."""

    code: str
    family: str
    requestable: bool
    rules: InstrumentRules | None
    names: LocalizedText
    descriptions: LocalizedText

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The instrument's name in `lang` (en or fr)."""
        return self.names.get(lang)

    def description(self, lang: str = DEFAULT_LANG) -> str:
        """The instrument's description in `lang` (en or fr)."""
        return self.descriptions.get(lang)


@dataclass(frozen=True, slots=True)
class InstrumentFamily:
    """A family of instruments, as a request may name it."""

    code: str
    instruments: tuple[str, ...]
    names: LocalizedText
    descriptions: LocalizedText

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The family's name in `lang` (en or fr)."""
        return self.names.get(lang)

    def description(self, lang: str = DEFAULT_LANG) -> str:
        """The family's description in `lang` (en or fr)."""
        return self.descriptions.get(lang)


@dataclass(frozen=True, slots=True)
class _Taxonomy:
    meta: SourceMeta
    families: Mapping[str, InstrumentFamily]
    instruments: Mapping[str, Instrument]
    requestable: frozenset[str]


@cache
def _taxonomy() -> _Taxonomy:
    raw = read_packaged("instruments.json")
    meta = parse_meta(raw, "instruments.json")
    instruments: dict[str, Instrument] = {}
    for item in raw["instruments"]:
        where = f"instruments.json instrument {item['code']!r}"
        rules = item.get("rules")
        instruments[item["code"]] = Instrument(
            code=item["code"],
            family=item["family"],
            requestable=bool(item["requestable"]),
            rules=None if rules is None else InstrumentRules(rules["code"], rules["title"]),
            names=LocalizedText.from_raw(item.get("names"), where),
            descriptions=LocalizedText.from_raw(item.get("descriptions"), where),
        )
    families: dict[str, InstrumentFamily] = {}
    for item in raw["families"]:
        where = f"instruments.json family {item['code']!r}"
        families[item["code"]] = InstrumentFamily(
            code=item["code"],
            instruments=tuple(i.code for i in instruments.values() if i.family == item["code"]),
            names=LocalizedText.from_raw(item.get("names"), where),
            descriptions=LocalizedText.from_raw(item.get("descriptions"), where),
        )
    orphans = sorted(i.code for i in instruments.values() if i.family not in families)
    clashes = sorted(
        (set(families) & set(instruments)) | ({ANY} & (set(families) | set(instruments)))
    )
    empty = sorted(f.code for f in families.values() if not f.instruments)
    if orphans or clashes or empty:
        raise ReferenceDataError(
            f"instruments.json: orphans {orphans}, code clashes {clashes}, empty families {empty}"
        )
    return _Taxonomy(
        meta=meta,
        families=MappingProxyType(families),
        instruments=MappingProxyType(instruments),
        requestable=frozenset(c for c, i in instruments.items() if i.requestable),
    )


def instrument_families() -> tuple[InstrumentFamily, ...]:
    """Every family, in the taxonomy's order."""
    return tuple(_taxonomy().families.values())


def instrument_family(code: str) -> InstrumentFamily:
    """The family of that code; `UnknownReferenceCode` otherwise."""
    try:
        return _taxonomy().families[code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("instrument_family", code) from None


def is_instrument_family(code: object) -> bool:
    """Whether `code` is a family code."""
    return isinstance(code, str) and code in _taxonomy().families


def instruments() -> tuple[Instrument, ...]:
    """Every instrument, in the taxonomy's order."""
    return tuple(_taxonomy().instruments.values())


def instrument(code: str) -> Instrument:
    """The instrument of that code; `UnknownReferenceCode` otherwise."""
    try:
        return _taxonomy().instruments[code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("instrument", code) from None


def is_instrument(code: object) -> bool:
    """Whether `code` is an instrument code (requestable or not)."""
    return isinstance(code, str) and code in _taxonomy().instruments


def family_of(code: str) -> str:
    """The family code of an instrument."""
    return instrument(code).family


def requestable_instruments() -> frozenset[str]:
    """The instruments a request may name (all but the bundled-only ones)."""
    return _taxonomy().requestable


def request_targets() -> frozenset[str]:
    """Every value a request's instrument field accepts: `any`, a family, or an instrument."""
    taxonomy = _taxonomy()
    families = {
        f.code for f in taxonomy.families.values() if set(f.instruments) & taxonomy.requestable
    }
    return frozenset({ANY, *families, *taxonomy.requestable})


def expand_instrument_request(code: str) -> frozenset[str]:
    """The instruments a request naming an instrument, a family or `any` covers.

    Bundled-only instruments (`requestable: false`) are never covered; naming one, or a family
    made only of them, raises `InstrumentNotRequestable`.
    """
    taxonomy = _taxonomy()
    if code == ANY:
        return taxonomy.requestable
    if not isinstance(code, str):
        raise UnknownReferenceCode("instrument_request", code)
    family = taxonomy.families.get(code)
    if family is not None:
        covered = frozenset(family.instruments) & taxonomy.requestable
        if not covered:
            raise InstrumentNotRequestable(code)
        return covered
    found = taxonomy.instruments.get(code)
    if found is None:
        raise UnknownReferenceCode(
            "instrument_request", code, "neither `any`, a family nor an instrument"
        )
    if not found.requestable:
        raise InstrumentNotRequestable(code)
    return frozenset({code})
