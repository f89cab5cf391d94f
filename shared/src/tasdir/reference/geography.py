"""Moroccan regions, ISO countries (through pycountry) and trade blocs."""

from __future__ import annotations

import gettext
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any

from tasdir.reference._files import SourceMeta, parse_meta, read_packaged
from tasdir.reference.errors import ReferenceDataError, UnknownReferenceCode
from tasdir.reference.i18n import DEFAULT_LANG, LocalizedText

# --- regions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Region:
    """A region of the exporter's country (for Morocco, the 12 regions of 2015)."""

    code: str
    country: str
    number: int
    seat: str
    names: LocalizedText

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The region's name in `lang` (en, fr or ar)."""
        return self.names.get(lang)


@cache
def _regions() -> tuple[SourceMeta, Mapping[str, Region]]:
    raw = read_packaged("regions.json")
    meta = parse_meta(raw, "regions.json")
    by_code: dict[str, Region] = {}
    for item in raw.get("regions", []):
        where = f"regions.json region {item.get('code')!r}"
        names = LocalizedText.from_raw(item.get("names"), where)
        if names.ar is None:
            raise ReferenceDataError(f"{where}: an Arabic name is required")
        region = Region(
            code=item["code"],
            country=item["country"],
            number=int(item["number"]),
            seat=item["seat"],
            names=names,
        )
        if region.code in by_code:
            raise ReferenceDataError(f"{where}: duplicate code")
        by_code[region.code] = region
    ordered = dict(sorted(by_code.items(), key=lambda kv: (kv[1].country, kv[1].number)))
    return meta, MappingProxyType(ordered)


def regions() -> tuple[Region, ...]:
    """Every region, in the official order."""
    return tuple(_regions()[1].values())


def region_codes() -> frozenset[str]:
    """The set of region codes."""
    return frozenset(_regions()[1])


def is_region(code: object) -> bool:
    """Whether `code` is a region code (lower-case slug)."""
    return isinstance(code, str) and code in _regions()[1]


def region(code: str) -> Region:
    """The region of that code; `UnknownReferenceCode` otherwise."""
    try:
        return _regions()[1][code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("region", code) from None


# --- countries ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Country:
    """An ISO 3166-1 country or territory."""

    alpha2: str
    alpha3: str
    numeric: str
    names: LocalizedText
    official_name: str | None

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The country's name in `lang` (en or fr)."""
        return self.names.get(lang)


@cache
def _countries() -> tuple[SourceMeta, Mapping[str, Country]]:
    import pycountry  # deferred: its database loads lazily anyway, but keep imports cheap

    meta = parse_meta(read_packaged("countries.json"), "countries.json")
    french = gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True
    )
    by_code: dict[str, Country] = {}
    for entry in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        by_code[entry.alpha_2] = Country(
            alpha2=entry.alpha_2,
            alpha3=entry.alpha_3,
            numeric=entry.numeric,
            names=LocalizedText(en=entry.name, fr=french.gettext(entry.name)),
            official_name=getattr(entry, "official_name", None),
        )
    if not by_code:
        raise ReferenceDataError("pycountry returned no countries")
    return meta, MappingProxyType(by_code)


def countries() -> tuple[Country, ...]:
    """Every ISO 3166-1 country, ordered by alpha-2 code."""
    return tuple(_countries()[1].values())


def country_codes() -> frozenset[str]:
    """The set of ISO alpha-2 codes."""
    return frozenset(_countries()[1])


def is_country(code: object) -> bool:
    """Whether `code` is an ISO 3166-1 alpha-2 code (upper-case, as ISO writes it)."""
    return isinstance(code, str) and code in _countries()[1]


def country(alpha2: str) -> Country:
    """The country of that alpha-2 code; `UnknownReferenceCode` otherwise."""
    try:
        return _countries()[1][alpha2]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("country", alpha2) from None


@cache
def country_index() -> Mapping[str, int]:
    """Alpha-2 code -> bit position, in alpha-2 order.

    Stable for one data version within a process: precompute bitsets from it, never persist it.
    """
    return MappingProxyType({code: i for i, code in enumerate(_countries()[1])})


# --- trade blocs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bloc:
    """A trade bloc and its members (ISO alpha-2) as of a date."""

    code: str
    names: LocalizedText
    members: frozenset[str]
    as_of: date
    source: str
    source_url: str
    notes: tuple[str, ...]

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The bloc's name in `lang` (en, fr or ar)."""
        return self.names.get(lang)


def _bloc_from_raw(item: Mapping[str, Any]) -> Bloc:
    code = item.get("code")
    where = f"blocs.json bloc {code!r}"
    if not isinstance(code, str) or not code.islower():
        raise ReferenceDataError(f"{where}: bloc codes are lower-case slugs")
    members = item.get("members")
    if not isinstance(members, list) or not members:
        raise ReferenceDataError(f"{where}: members must be a non-empty list")
    unknown = sorted(m for m in members if not is_country(m))
    if unknown:
        raise ReferenceDataError(f"{where}: members are not ISO alpha-2 codes: {unknown}")
    return Bloc(
        code=code,
        names=LocalizedText.from_raw(item.get("names"), where),
        members=frozenset(members),
        as_of=date.fromisoformat(item["as_of"]),
        source=item["source"],
        source_url=item["source_url"],
        notes=tuple(item.get("notes", ())),
    )


@cache
def _blocs() -> tuple[SourceMeta, Mapping[str, Bloc]]:
    raw = read_packaged("blocs.json")
    meta = parse_meta(raw, "blocs.json")
    by_code: dict[str, Bloc] = {}
    for item in raw.get("blocs", []):
        bloc = _bloc_from_raw(item)
        if bloc.code in by_code:
            raise ReferenceDataError(f"blocs.json: duplicate bloc {bloc.code!r}")
        by_code[bloc.code] = bloc
    return meta, MappingProxyType(dict(sorted(by_code.items())))


def blocs() -> tuple[Bloc, ...]:
    """Every trade bloc, ordered by code."""
    return tuple(_blocs()[1].values())


def bloc_codes() -> frozenset[str]:
    """The set of bloc codes."""
    return frozenset(_blocs()[1])


def is_bloc(code: object) -> bool:
    """Whether `code` is a bloc code (lower-case slug such as `afcfta`)."""
    return isinstance(code, str) and code in _blocs()[1]


def bloc(code: str) -> Bloc:
    """The bloc of that code; `UnknownReferenceCode` otherwise."""
    try:
        return _blocs()[1][code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("bloc", code) from None


def bloc_members(code: str) -> frozenset[str]:
    """The ISO alpha-2 members of a bloc."""
    return bloc(code).members


# --- world regions (UN M49) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorldRegion:
    """A UN M49 region, sub-region or intermediate region (`sub-saharan-africa`)."""

    code: str
    m49: str
    names: LocalizedText
    parent: str | None
    # Every country it covers, those of the regions below it included.
    members: frozenset[str]

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The region's name in `lang` (en or fr)."""
        return self.names.get(lang)


@cache
def _world_regions() -> tuple[SourceMeta, Mapping[str, WorldRegion]]:
    raw = read_packaged("world_regions.json")
    meta = parse_meta(raw, "world_regions.json")
    items = raw.get("regions", [])
    own: dict[str, set[str]] = {}
    parents: dict[str, str | None] = {}
    names: dict[str, LocalizedText] = {}
    codes: dict[str, str] = {}
    for item in items:
        code = item.get("code")
        where = f"world_regions.json region {code!r}"
        if not isinstance(code, str) or not code.islower() or code in own:
            raise ReferenceDataError(f"{where}: codes are unique lower-case slugs")
        if (is_country(code.upper()) and len(code) == 2) or code in _blocs()[1]:
            raise ReferenceDataError(f"{where}: a code must not look like a country or a bloc")
        members = item.get("members", [])
        unknown = sorted(m for m in members if not is_country(m))
        if unknown:
            raise ReferenceDataError(f"{where}: members are not ISO alpha-2 codes: {unknown}")
        own[code] = set(members)
        parents[code] = item.get("parent")
        names[code] = LocalizedText.from_raw(item.get("names"), where)
        codes[code] = str(item["m49"])
    for code, parent in parents.items():
        if parent is not None and parent not in own:
            raise ReferenceDataError(f"world_regions.json region {code!r}: unknown parent")

    def covered(code: str) -> set[str]:
        found = set(own[code])
        for child, parent in parents.items():
            if parent == code:
                found |= covered(child)
        return found

    by_code = {
        code: WorldRegion(
            code=code,
            m49=codes[code],
            names=names[code],
            parent=parents[code],
            members=frozenset(covered(code)),
        )
        for code in own
    }
    return meta, MappingProxyType(by_code)


def world_regions() -> tuple[WorldRegion, ...]:
    """Every UN M49 region, sub-region and intermediate region, in the file's order."""
    return tuple(_world_regions()[1].values())


def world_region_codes() -> frozenset[str]:
    return frozenset(_world_regions()[1])


def is_world_region(code: object) -> bool:
    """Whether `code` is a UN M49 region code (a lower-case slug such as `western-asia`)."""
    return isinstance(code, str) and code in _world_regions()[1]


def world_region(code: str) -> WorldRegion:
    """The world region of that code; `UnknownReferenceCode` otherwise."""
    try:
        return _world_regions()[1][code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("world_region", code) from None


# --- destinations ------------------------------------------------------------------------------


def is_destination(code: object) -> bool:
    """Whether `code` is a destination: an ISO alpha-2 country, a bloc or a world region."""
    return is_country(code) or is_bloc(code) or is_world_region(code)


def destination_codes() -> frozenset[str]:
    """Every destination code: countries, blocs and world regions."""
    return country_codes() | bloc_codes() | world_region_codes()


def expand_destinations(codes: str | Iterable[str]) -> frozenset[str]:
    """The ISO alpha-2 countries that a mix of country, bloc and world-region codes covers."""
    # A bare string is one code, not an iterable of one-letter codes.
    items = (codes,) if isinstance(codes, str) else codes
    out: set[str] = set()
    blocs_by_code = _blocs()[1]
    regions_by_code = _world_regions()[1]
    for code in items:
        if is_country(code):
            out.add(code)
        elif isinstance(code, str) and code in blocs_by_code:
            out |= blocs_by_code[code].members
        elif isinstance(code, str) and code in regions_by_code:
            out |= regions_by_code[code].members
        else:
            raise UnknownReferenceCode(
                "destination", code, "neither an ISO alpha-2 code, a bloc nor a world region"
            )
    return frozenset(out)
