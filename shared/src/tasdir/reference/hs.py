"""The Harmonized System (HS 2022): sections, chapters, and validation of HS codes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from tasdir.reference._files import SourceMeta, parse_meta, read_packaged
from tasdir.reference.errors import InvalidHsCode, ReferenceDataError, UnknownReferenceCode
from tasdir.reference.i18n import DEFAULT_LANG, LocalizedText

# `[0-9]`, not `\d`: `\d` also matches Arabic-Indic and other Unicode digits.
_HS_CODE = re.compile(r"(?:[0-9]{2}){1,3}")


@dataclass(frozen=True, slots=True)
class HsSection:
    """An HS section (I to XXI) and the chapters it groups."""

    code: str
    number: int
    chapters: tuple[str, ...]
    names: LocalizedText

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The section's title in `lang` (en or fr)."""
        return self.names.get(lang)


@dataclass(frozen=True, slots=True)
class HsChapter:
    """An HS chapter (2 digits). A reserved chapter exists but classifies no product."""

    code: str
    section: str
    reserved: bool
    names: LocalizedText

    def name(self, lang: str = DEFAULT_LANG) -> str:
        """The chapter's title in `lang` (en or fr)."""
        return self.names.get(lang)


@dataclass(frozen=True, slots=True)
class _Hs:
    meta: SourceMeta
    sections: Mapping[str, HsSection]
    chapters: Mapping[str, HsChapter]
    valid: frozenset[str]


@cache
def _hs() -> _Hs:
    raw = read_packaged("hs2022.json")
    meta = parse_meta(raw, "hs2022.json")
    sections = {
        s["code"]: HsSection(
            code=s["code"],
            number=int(s["number"]),
            chapters=tuple(s["chapters"]),
            names=LocalizedText.from_raw(s.get("names"), f"hs2022.json section {s['code']}"),
        )
        for s in raw["sections"]
    }
    chapters: dict[str, HsChapter] = {}
    for c in raw["chapters"]:
        code = c["code"]
        if not (isinstance(code, str) and len(code) == 2 and _HS_CODE.fullmatch(code)):
            raise ReferenceDataError(f"hs2022.json: bad chapter code {code!r}")
        if c["section"] not in sections or code not in sections[c["section"]].chapters:
            raise ReferenceDataError(f"hs2022.json: chapter {code} has a wrong section")
        chapters[code] = HsChapter(
            code=code,
            section=c["section"],
            reserved=bool(c["reserved"]),
            names=LocalizedText.from_raw(c.get("names"), f"hs2022.json chapter {code}"),
        )
    listed = sorted(code for s in sections.values() for code in s.chapters)
    if listed != sorted(chapters):
        raise ReferenceDataError("hs2022.json: sections and chapters disagree")
    return _Hs(
        meta=meta,
        sections=MappingProxyType(dict(sorted(sections.items(), key=lambda kv: kv[1].number))),
        chapters=MappingProxyType(dict(sorted(chapters.items()))),
        valid=frozenset(code for code, ch in chapters.items() if not ch.reserved),
    )


def hs_sections() -> tuple[HsSection, ...]:
    """The 21 sections, in order."""
    return tuple(_hs().sections.values())


def hs_section(code: str) -> HsSection:
    """The section of that Roman numeral; `UnknownReferenceCode` otherwise."""
    try:
        return _hs().sections[code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("hs_section", code) from None


def hs_chapters(*, include_reserved: bool = True) -> tuple[HsChapter, ...]:
    """Every chapter 01-97 in order; reserved ones (77) only if asked."""
    return tuple(c for c in _hs().chapters.values() if include_reserved or not c.reserved)


def hs_chapter(code: str) -> HsChapter:
    """The chapter of a 2-digit code, reserved ones included; `UnknownReferenceCode` otherwise."""
    try:
        return _hs().chapters[code]
    except (KeyError, TypeError):
        raise UnknownReferenceCode("hs_chapter", code) from None


def valid_chapter_codes() -> frozenset[str]:
    """The chapters a product can be classified in (every chapter but the reserved ones)."""
    return _hs().valid


def is_hs_chapter(code: object) -> bool:
    """Whether `code` is a 2-digit chapter that classifies products (not reserved)."""
    return isinstance(code, str) and code in _hs().valid


def hs_chapter_of(code: str) -> str:
    """The chapter of a 2-, 4- or 6-digit HS code, once validated; `InvalidHsCode` otherwise."""
    if not isinstance(code, str):
        raise InvalidHsCode(code, "an HS code is a string of digits")
    if not _HS_CODE.fullmatch(code):
        raise InvalidHsCode(code, "an HS code has 2, 4 or 6 digits (0-9)")
    chapter = code[:2]
    found = _hs().chapters.get(chapter)
    if found is None:
        raise InvalidHsCode(code, f"chapter {chapter} does not exist in HS 2022")
    if found.reserved:
        raise InvalidHsCode(code, f"chapter {chapter} is reserved for future use")
    return chapter


def is_valid_hs_code(code: object) -> bool:
    """Whether `code` is a well-formed HS code in an existing, non-reserved chapter."""
    return isinstance(code, str) and bool(_HS_CODE.fullmatch(code)) and code[:2] in _hs().valid


@cache
def chapter_index() -> Mapping[str, int]:
    """Valid chapter -> bit position, in chapter order (reserved chapters have no bit).

    Stable for one data version within a process: precompute bitsets from it, never persist it.
    """
    return MappingProxyType({code: i for i, code in enumerate(sorted(_hs().valid))})
