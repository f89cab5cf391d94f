"""Reading the packaged data files and their `meta` block."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from tasdir.reference.errors import ReferenceDataError

DATA_FILES: tuple[str, ...] = (
    "regions.json",
    "countries.json",
    "blocs.json",
    "world_regions.json",
    "currencies.json",
    "hs2022.json",
    "instruments.json",
    "fx_mad.json",
)


@dataclass(frozen=True, slots=True)
class SourceMeta:
    """Where a data file comes from, as of when, and the decisions taken on it."""

    dataset: str
    version: str
    as_of: date
    source: str
    source_url: str
    notes: tuple[str, ...]


def read_packaged(name: str) -> dict[str, Any]:
    """Parse one JSON file shipped in `tasdir/reference/data/`."""
    try:
        text = resources.files("tasdir.reference").joinpath("data", name).read_text("utf-8")
    except FileNotFoundError as exc:
        raise ReferenceDataError(f"packaged reference file {name} is missing") from exc
    return parse_json(text, f"packaged {name}")


def read_path(path: Path) -> dict[str, Any]:
    """Parse a JSON file given by configuration."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"cannot read reference file {path}: {exc}") from exc
    return parse_json(text, str(path))


def parse_json(text: str, where: str) -> dict[str, Any]:
    """Parse JSON, keeping every non-integer number as an exact Decimal."""
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ReferenceDataError(f"{where} must hold a JSON object")
    return raw


def parse_meta(raw: dict[str, Any], where: str) -> SourceMeta:
    """Check and read the `meta` block every data file carries."""
    meta = raw.get("meta")
    if not isinstance(meta, dict):
        raise ReferenceDataError(f"{where} has no `meta` object")
    for key in ("dataset", "version", "as_of", "source", "source_url"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise ReferenceDataError(f"{where}: meta.{key} must be a non-empty string")
    try:
        as_of = date.fromisoformat(meta["as_of"])
    except ValueError as exc:
        raise ReferenceDataError(f"{where}: meta.as_of is not an ISO date") from exc
    notes = meta.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ReferenceDataError(f"{where}: meta.notes must be a list of strings")
    return SourceMeta(
        dataset=meta["dataset"],
        version=meta["version"],
        as_of=as_of,
        source=meta["source"],
        source_url=meta["source_url"],
        notes=tuple(notes),
    )
