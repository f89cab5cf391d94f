"""Text that people type, made safe to store and show: one reusable type for every API field.

`clean_text` normalises to NFC, trims, and refuses what has no business in a name or a note:
- C0 and C1 control characters (NUL above all: PostgreSQL refuses it, so it would be a 500);
  a multi-line field keeps line feeds and tabs;
- bidirectional overrides and isolates (U+202A to U+202E, U+2066 to U+2069), which make "A‮B" read
  as something else, and invisible characters that make two names look the same;
- lone surrogates, which no database can encode;
- blank text.

Digits are ASCII only everywhere (`DIGITS`): `\\d` and `str.isdigit` accept Arabic-Indic and
fullwidth digits, so Arabic-Indic zeros would pass for a second company beside "000…".
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, core_schema

from tasdir.json_types import JsonObject

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_LINE_BREAKS = "\t\n\r"
_INVISIBLE = "\u200b\u2060\ufeff\ufffe\uffff"
_BIDI = "\u202a-\u202e\u2066-\u2069"
_SURROGATES = "\ud800-\udfff"
_SINGLE_LINE_FORBIDDEN = re.compile(f"[{_CONTROLS}{_LINE_BREAKS}{_INVISIBLE}{_BIDI}{_SURROGATES}]")
_MULTI_LINE_FORBIDDEN = re.compile(f"[{_CONTROLS}{_INVISIBLE}{_BIDI}{_SURROGATES}]")

# The same rule as JSON Schema patterns, so that generated clients (and schemathesis) know it.
_OTHERS_CLASS = r"\u007f-\u009f\u200b\u2060\ufeff\ufffe\uffff\u202a-\u202e\u2066-\u2069"
_SINGLE_LINE_CLASS = r"\u0000-\u001f" + _OTHERS_CLASS
_MULTI_LINE_CLASS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f" + _OTHERS_CLASS
SINGLE_LINE_PATTERN = (
    f"^[^{_SINGLE_LINE_CLASS}]*[^\\s{_SINGLE_LINE_CLASS}][^{_SINGLE_LINE_CLASS}]*$"
)
MULTI_LINE_PATTERN = f"^[^{_MULTI_LINE_CLASS}]*[^\\s{_MULTI_LINE_CLASS}][^{_MULTI_LINE_CLASS}]*$"

DIGITS = "0123456789"


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def clean_text(value: str, *, multiline: bool = False, max_length: int | None = None) -> str:
    """NFC, trimmed, non-blank, with no control, bidi-override or invisible characters.

    Raises `ValueError` with a message that names the offending character.
    """
    forbidden = _MULTI_LINE_FORBIDDEN if multiline else _SINGLE_LINE_FORBIDDEN
    found = forbidden.search(value)
    if found is not None:
        raise ValueError(f"contains a forbidden character {_describe(found.group())}")
    cleaned = unicodedata.normalize("NFC", value).strip()
    if multiline:
        cleaned = cleaned.replace("\r\n", "\n").replace("\r", "\n")
    if not cleaned:
        raise ValueError("must not be blank")
    if max_length is not None and len(cleaned) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    return cleaned


def is_ascii_digits(value: str, length: int | None = None) -> bool:
    """Only the ASCII digits 0 to 9 (and exactly `length` of them, when given)."""
    if length is not None and len(value) != length:
        return False
    return bool(value) and all(char in DIGITS for char in value)


class Text:
    """Inside `Annotated[str, Text(200)]`: the validator and the JSON Schema of a text field."""

    def __init__(
        self, max_length: int, *, multiline: bool = False, description: str | None = None
    ) -> None:
        self.max_length = max_length
        self.multiline = multiline
        self.description = description

    def __get_pydantic_core_schema__(
        self, source: type[str], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def validate(value: str) -> str:
            return clean_text(value, multiline=self.multiline, max_length=self.max_length)

        return core_schema.no_info_after_validator_function(
            validate, core_schema.str_schema(max_length=self.max_length * 4)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonObject:
        result: JsonObject = {
            "type": "string",
            "minLength": 1,
            "maxLength": self.max_length,
            "pattern": MULTI_LINE_PATTERN if self.multiline else SINGLE_LINE_PATTERN,
        }
        if self.description:
            result["description"] = self.description
        return result


__all__ = [
    "DIGITS",
    "MULTI_LINE_PATTERN",
    "SINGLE_LINE_PATTERN",
    "Text",
    "clean_text",
    "is_ascii_digits",
]
