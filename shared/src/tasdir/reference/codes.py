"""Code fields checked against the reference data, as pydantic types for API models.

`region: RegionCode` refuses `"atlantis"` with a 422 naming the field, and documents the valid
codes as an `enum` in the OpenAPI document, so a client (or schemathesis) knows them. The codes
are read from the reference files when first needed, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, core_schema

from tasdir.json_types import JsonObject, JsonValue
from tasdir.reference.geography import (
    country_codes,
    destination_codes,
    is_country,
    is_destination,
    is_region,
    region_codes,
)
from tasdir.reference.hs import is_hs_chapter, is_valid_hs_code, valid_chapter_codes
from tasdir.reference.instruments import (
    instrument_families,
    instruments,
    is_instrument,
    is_instrument_family,
)
from tasdir.reference.money import currency_codes, is_currency


class ReferenceCode:
    """Inside `Annotated[str, ReferenceCode(...)]`: the check and the documented enum."""

    def __init__(
        self,
        what: str,
        accepts: Callable[[object], bool],
        codes: Callable[[], Iterable[str]] | None = None,
        *,
        description: str | None = None,
    ) -> None:
        self.what = what
        self.accepts = accepts
        self.codes = codes
        self.description = description

    def __get_pydantic_core_schema__(
        self, source: type[str], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def validate(value: str) -> str:
            if not self.accepts(value):
                raise ValueError(f"{value[:64]!r} is not a known {self.what}")
            return value

        return core_schema.no_info_after_validator_function(
            validate, core_schema.str_schema(max_length=64)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonObject:
        result: JsonObject = {"type": "string"}
        if self.codes is not None:
            result["enum"] = list[JsonValue](sorted(self.codes()))
        if self.description:
            result["description"] = self.description
        return result


class HsCodeType:
    """Inside `Annotated[str, HsCodeType()]`: an HS 2022 code of 2, 4 or 6 ASCII digits whose
    chapter exists; the JSON Schema pattern lists the chapters."""

    def __get_pydantic_core_schema__(
        self, source: type[str], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def validate(value: str) -> str:
            if not is_valid_hs_code(value):
                raise ValueError(
                    f"{value[:16]!r} is not an HS code (2, 4 or 6 digits of an existing chapter)"
                )
            return value

        return core_schema.no_info_after_validator_function(
            validate, core_schema.str_schema(max_length=6)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonObject:
        chapters = "|".join(sorted(valid_chapter_codes()))
        return {
            "type": "string",
            "pattern": f"^({chapters})([0-9]{{2}}){{0,2}}$",
            "description": "An HS 2022 code: a chapter (2 digits), a heading (4) or a "
            "subheading (6), in an existing chapter.",
            "examples": ["0805"],
        }


HsCode = Annotated[str, HsCodeType()]

HsChapterCode = Annotated[
    str,
    ReferenceCode(
        "HS chapter (2 digits)",
        is_hs_chapter,
        valid_chapter_codes,
        description="An HS 2022 chapter, 2 digits, e.g. `08`.",
    ),
]
InstrumentCode = Annotated[
    str,
    ReferenceCode(
        "instrument code",
        is_instrument,
        lambda: {i.code for i in instruments()},
        description="An instrument of the taxonomy (see /v1/reference/instruments).",
    ),
]
InstrumentRequestCode = Annotated[
    str,
    ReferenceCode(
        "instrument, instrument family or `any`",
        lambda code: (
            isinstance(code, str)
            and (is_instrument(code) or is_instrument_family(code) or code == "any")
        ),
        lambda: {i.code for i in instruments()} | {f.code for f in instrument_families()} | {"any"},
        description="An instrument, an instrument family, or `any`.",
    ),
]

RegionCode = Annotated[
    str,
    ReferenceCode(
        "region code",
        is_region,
        region_codes,
        description="A region of Morocco (2015 division), e.g. `souss-massa`.",
    ),
]
CountryCode = Annotated[
    str,
    ReferenceCode(
        "ISO 3166-1 alpha-2 country code",
        is_country,
        country_codes,
        description="ISO 3166-1 alpha-2, upper-case, e.g. `MA`.",
    ),
]
CurrencyCode = Annotated[
    str,
    ReferenceCode(
        "ISO 4217 currency code",
        is_currency,
        currency_codes,
        description="ISO 4217, upper-case, e.g. `MAD`.",
    ),
]
DestinationCode = Annotated[
    str,
    ReferenceCode(
        "destination (country, bloc or world region)",
        is_destination,
        destination_codes,
        description="An ISO alpha-2 country, a bloc such as `afcfta`, or a UN M49 world "
        "region such as `africa`.",
    ),
]

__all__ = [
    "CountryCode",
    "CurrencyCode",
    "DestinationCode",
    "HsChapterCode",
    "HsCode",
    "InstrumentCode",
    "InstrumentRequestCode",
    "ReferenceCode",
    "RegionCode",
]
