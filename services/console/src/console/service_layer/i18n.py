"""French and English: the language of a page, its translations, and its numbers and dates.

The catalogues are gettext `.po` files under `console/locale`, compiled when first used (no
`.mo` file is built or committed). The language is the one the user chose (kept in the
session), else the best of `Accept-Language`, else English. `make console-messages` extracts
the strings again (docs/console.md).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from io import BytesIO

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern
from tasdir.reference import pick_language

LANGS: tuple[str, ...] = ("en", "fr")
#: The language of the strings in the code and templates.
SOURCE_LANG = "en"
LANG_NAMES = {"en": "English", "fr": "Français"}
#: What a page shows for a figure that is not known.
UNKNOWN = "\N{EN DASH}"


def choose(chosen: str | None, accept_language: str | None) -> str:
    if chosen in LANGS:
        return chosen
    return pick_language(accept_language, ("en", "fr"))


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang`, compiled from its `.po` file once per process."""
    if lang == SOURCE_LANG:
        return gettext.NullTranslations()
    po = files("console") / "locale" / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_of(lang: str) -> Callable[[str], str]:
    return translations(lang).gettext


def labeller(lang: str) -> Callable[[str | None], str]:
    """Shows a word the API sends (`in_review`) in `lang`: its translation, or in English the
    word with spaces (`in review`)."""
    gettext = gettext_of(lang)

    def label(value: str | None) -> str:
        if not value:
            return ""
        translated = gettext(value)
        return translated.replace("_", " ") if translated == value else translated

    return label


@cache
def _number_format(lang: str, digits: int) -> tuple[Locale, NumberPattern]:
    """The locale and the pattern of a number, parsed once: a match set of 100 matches
    formats some 600 numbers, and `format_decimal` parses both on each call."""
    return Locale.parse(lang), parse_pattern(f"#,##0.{'0' * digits}")


class Formats:
    """Numbers, dates and durations in one language (Babel's CLDR data)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def number(self, value: float | int | None, digits: int = 2) -> str:
        if value is None:
            return UNKNOWN
        locale, pattern = _number_format(self.lang, digits)
        return pattern.apply(value, locale)

    def pct(self, value: float | int | None, digits: int = 2) -> str:
        return UNKNOWN if value is None else f"{self.number(value, digits)} %"

    def when(self, value: str | datetime | None) -> str:
        moment = _parse(value)
        return UNKNOWN if moment is None else format_datetime(moment, "medium", locale=self.lang)

    def duration(self, value: timedelta | None) -> str:
        """A length of time: "3 hours", "2 days"."""
        return UNKNOWN if value is None else format_timedelta(value, locale=self.lang)

    def age(self, value: str | datetime | None, now: datetime) -> str:
        """How long ago: "3 days", "5 hours"."""
        moment = _parse(value)
        if moment is None:
            return UNKNOWN
        return format_timedelta(max(now - moment, timedelta(0)), threshold=1.0, locale=self.lang)


def _parse(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
