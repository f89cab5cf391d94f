"""Helpers for API models (`XCreate`, `XUpdate`, `XPublic`)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, core_schema

from tasdir.json_types import JsonObject


def _no_default(schema: JsonObject) -> None:
    schema.pop("default", None)


def omittable(**kwargs: Any) -> Any:
    """A field of an `XUpdate` that may be left out, but is never null: `name: Name = omittable()`.

    Left out, it is not in `model_dump(exclude_unset=True)`; sent as null, it is a 422 naming the
    field. The OpenAPI document shows it as optional and not nullable, which is the truth.
    """
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


# A binary float carries noise below this; a JSON number within it of its rounding is taken as
# the decimal it was written as (0.30000000000000004 is 0.3).
_FLOAT_NOISE = Decimal("1e-9")


class DecimalInput:
    """Inside `Annotated[Decimal, DecimalInput(places=2)]`: a decimal sent as a JSON number or
    as a string of digits, with at most `places` decimals, from 0 up to (not including)
    10^`digits`.

    Strings take plain digits only (`"1500000.50"`: no exponent, no sign, no spaces). The bounds
    are chosen so that the JSON Schema can say them exactly, for strings as for numbers: what
    the schema allows, the server accepts. A rule it cannot say (an amount above 0, the decimals
    of one currency) is the domain's, and its 422 says so.
    """

    def __init__(self, *, places: int, digits: int = 15, description: str | None = None) -> None:
        self.places = places
        self.digits = digits
        self.below = Decimal(10) ** digits
        self.description = description
        fraction = f"(\\.[0-9]{{1,{places}}})?" if places else ""
        self.pattern = f"^[0-9]{{1,{digits}}}{fraction}$"
        self._string = re.compile(self.pattern)

    def _parse(self, value: object) -> Decimal:
        if isinstance(value, bool):
            raise ValueError("must be a number or a string of digits")
        if isinstance(value, str):
            if not self._string.match(value):
                raise ValueError(
                    f"must be digits 0-9 (not negative) with at most {self.places} decimals, "
                    "like 1500000.50"
                )
            return Decimal(value)
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            if value != value or abs(value) >= float(self.below):
                raise ValueError(f"must be a finite number below {self.below:.0e}")
            exact = Decimal(repr(value))
            rounded = exact.quantize(Decimal(1).scaleb(-self.places))
            if abs(exact - rounded) > _FLOAT_NOISE:
                raise ValueError(f"at most {self.places} decimals")
            return rounded
        if isinstance(value, Decimal):
            return value
        raise ValueError("must be a number or a string of digits")

    def validate(self, value: object) -> Decimal:
        try:
            number = self._parse(value)
        except InvalidOperation:
            raise ValueError("not a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.places:
            raise ValueError(f"at most {self.places} decimals")
        if not Decimal(0) <= number < self.below:
            raise ValueError(f"must be at least 0 and below {self.below:.0e}")
        return number

    def __get_pydantic_core_schema__(
        self, source: type[Decimal], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonObject:
        number: JsonObject = {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": float(self.below),
            "multipleOf": float(Decimal(1).scaleb(-self.places)),
        }
        string: JsonObject = {"type": "string", "pattern": self.pattern}
        result: JsonObject = {"anyOf": [number, string]}
        if self.description:
            result["description"] = self.description
        return result


def _iso_date_text(value: object) -> object:
    if not isinstance(value, str | date):
        raise ValueError("a date is a string, YYYY-MM-DD")
    return value


# A date as JSON writes it: "2027-01-15". Without this, a number would pass as a Unix time.
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]

__all__ = ["DecimalInput", "IsoDate", "omittable"]
