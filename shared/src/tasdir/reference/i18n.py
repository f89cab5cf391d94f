"""Display names in several languages, and picking one from an `Accept-Language` header."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from tasdir.reference.errors import ReferenceDataError

Lang = Literal["en", "fr", "ar"]
DEFAULT_LANG: Lang = "en"
#: Every reference name exists in English and French; only some (regions, blocs) also in Arabic.
NAME_LANGS: tuple[Lang, ...] = ("en", "fr")
REGION_NAME_LANGS: tuple[Lang, ...] = ("en", "fr", "ar")


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """One text in English and French, and optionally Arabic."""

    en: str
    fr: str
    ar: str | None = None

    def get(self, lang: str = DEFAULT_LANG) -> str:
        """The text in `lang`, falling back to English when that language is missing."""
        if lang == "fr":
            return self.fr
        if lang == "ar" and self.ar is not None:
            return self.ar
        return self.en

    def as_dict(self) -> dict[str, str]:
        """The languages present, as a plain dict (for JSON)."""
        out = {"en": self.en, "fr": self.fr}
        if self.ar is not None:
            out["ar"] = self.ar
        return out

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> LocalizedText:
        """Read `{"en": ..., "fr": ..., "ar"?: ...}` from a data file."""
        if not isinstance(raw, Mapping) or not all(
            isinstance(raw.get(k), str) and raw[k] for k in ("en", "fr")
        ):
            raise ReferenceDataError(f"{where}: names need non-empty 'en' and 'fr'")
        ar = raw.get("ar")
        if ar is not None and not isinstance(ar, str):
            raise ReferenceDataError(f"{where}: 'ar' must be a string")
        return cls(en=raw["en"], fr=raw["fr"], ar=ar)


def pick_language(accept_language: str | None, supported: Iterable[Lang] = NAME_LANGS) -> Lang:
    """The best supported language for an `Accept-Language` header (English by default).

    Only the primary subtag counts (`fr-MA` is `fr`); a `q` of 0 excludes a language.
    """
    allowed = tuple(supported)
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if primary not in allowed or quality <= 0:
            continue
        # Higher quality wins; on a tie, the earlier entry in the header wins.
        candidate = (quality, -position, cast(Lang, primary))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is not None:
        return best[2]
    return DEFAULT_LANG if DEFAULT_LANG in allowed or not allowed else allowed[0]
