"""Tasdir's reference data: the one API every service validates codes and converts money with.

Regions, countries and trade blocs, currencies and the reference FX table into MAD, the HS 2022
sections and chapters, and the instrument taxonomy. The data ships as versioned JSON files in
`data/`, each with its source, date and decisions in a `meta` block. Files are read lazily, once
per process; nothing is read at import time.

Codes are case-sensitive: ISO codes are upper-case (`MA`, `EUR`), Tasdir's own codes are
lower-case slugs (`casablanca-settat`, `afcfta`, `lc_confirmation`). Every rejected code raises an
`InvalidReferenceCode`, a `ValueError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from importlib import metadata
from types import MappingProxyType

from tasdir.reference import geography, hs, instruments, money
from tasdir.reference._files import DATA_FILES, SourceMeta, parse_meta, read_packaged
from tasdir.reference.errors import (
    FxRateUnavailable,
    InstrumentNotRequestable,
    InvalidHsCode,
    InvalidReferenceCode,
    ReferenceDataError,
    UnknownReferenceCode,
)
from tasdir.reference.geography import (
    Bloc,
    Country,
    Region,
    WorldRegion,
    bloc,
    bloc_codes,
    bloc_members,
    blocs,
    countries,
    country,
    country_codes,
    country_index,
    destination_codes,
    expand_destinations,
    is_bloc,
    is_country,
    is_destination,
    is_region,
    is_world_region,
    region,
    region_codes,
    regions,
    world_region,
    world_region_codes,
    world_regions,
)
from tasdir.reference.hs import (
    HsChapter,
    HsSection,
    chapter_index,
    hs_chapter,
    hs_chapter_of,
    hs_chapters,
    hs_section,
    hs_sections,
    is_hs_chapter,
    is_valid_hs_code,
    valid_chapter_codes,
)
from tasdir.reference.i18n import (
    DEFAULT_LANG,
    NAME_LANGS,
    REGION_NAME_LANGS,
    Lang,
    LocalizedText,
    pick_language,
)
from tasdir.reference.instruments import (
    ANY,
    Instrument,
    InstrumentFamily,
    InstrumentRules,
    expand_instrument_request,
    family_of,
    instrument,
    instrument_families,
    instrument_family,
    is_instrument,
    is_instrument_family,
    request_targets,
    requestable_instruments,
)
from tasdir.reference.instruments import instruments as instrument_list
from tasdir.reference.money import (
    MAD,
    Currency,
    FxTable,
    convert,
    currencies,
    currency,
    currency_codes,
    fx_table,
    is_currency,
    minor_units,
    quantize,
    to_mad,
)


@functools.cache
def sources() -> Mapping[str, SourceMeta]:
    """The source, date, version and decisions of every packaged data file, by dataset.

    Read once, then kept (the packaged files do not change while the process runs);
    `clear_caches()` forgets it."""
    out: dict[str, SourceMeta] = {}
    for name in DATA_FILES:
        meta = parse_meta(read_packaged(name), name)
        if meta.dataset in {"countries", "currencies"}:
            # The lists themselves come from pycountry: report the version actually loaded.
            meta = replace(
                meta, version=f"{meta.version}+pycountry.{metadata.version('pycountry')}"
            )
        out[meta.dataset] = meta
    return MappingProxyType(out)


def clear_caches() -> None:
    """Forget every loaded file, so the next call reads them again (tests, FX table reload)."""
    for cached in (
        sources,
        geography._regions,
        geography._countries,
        geography._blocs,
        geography._world_regions,
        geography.country_index,
        money._currencies,
        money._load_fx,
        hs._hs,
        hs.chapter_index,
        instruments._taxonomy,
    ):
        cached.cache_clear()


__all__ = [
    "ANY",
    "DEFAULT_LANG",
    "MAD",
    "NAME_LANGS",
    "REGION_NAME_LANGS",
    "Bloc",
    "Country",
    "Currency",
    "FxRateUnavailable",
    "FxTable",
    "HsChapter",
    "HsSection",
    "Instrument",
    "InstrumentFamily",
    "InstrumentNotRequestable",
    "InstrumentRules",
    "InvalidHsCode",
    "InvalidReferenceCode",
    "Lang",
    "LocalizedText",
    "ReferenceDataError",
    "Region",
    "SourceMeta",
    "UnknownReferenceCode",
    "WorldRegion",
    "bloc",
    "bloc_codes",
    "bloc_members",
    "blocs",
    "chapter_index",
    "clear_caches",
    "convert",
    "countries",
    "country",
    "country_codes",
    "country_index",
    "currencies",
    "currency",
    "currency_codes",
    "destination_codes",
    "expand_destinations",
    "expand_instrument_request",
    "family_of",
    "fx_table",
    "hs_chapter",
    "hs_chapter_of",
    "hs_chapters",
    "hs_section",
    "hs_sections",
    "instrument",
    "instrument_families",
    "instrument_family",
    "instrument_list",
    "is_bloc",
    "is_country",
    "is_currency",
    "is_destination",
    "is_hs_chapter",
    "is_instrument",
    "is_instrument_family",
    "is_region",
    "is_valid_hs_code",
    "is_world_region",
    "minor_units",
    "pick_language",
    "quantize",
    "region",
    "region_codes",
    "regions",
    "request_targets",
    "requestable_instruments",
    "sources",
    "to_mad",
    "valid_chapter_codes",
    "world_region",
    "world_region_codes",
    "world_regions",
]
