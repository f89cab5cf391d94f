"""Helpers for API models (`XCreate`, `XUpdate`, `XPublic`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(**kwargs: Any) -> Any:
    """A field of an `XUpdate` that may be left out, but is never null: `name: Name = omittable()`.

    Left out, it is not in `model_dump(exclude_unset=True)`; sent as null, it is a 422 naming the
    field. The OpenAPI document shows it as optional and not nullable, which is the truth.
    """
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


__all__ = ["omittable"]
