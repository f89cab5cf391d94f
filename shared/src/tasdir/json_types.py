"""JSON as it is parsed: what an event payload, a queue argument or a data file holds."""

from __future__ import annotations

from pydantic import JsonValue

JsonObject = dict[str, JsonValue]

__all__ = ["JsonObject", "JsonValue"]
