"""The provider: a bank, guarantor, insurer or export credit agency that publishes products.

The rules here are plain functions that raise `ValueError`, so that the HTTP schemas can use them
as validators (a 422 naming the field) and the use cases can rely on them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from tasdir.reference import is_country, is_region

ProviderKind = Literal["bank", "guarantor", "insurer", "eca"]
ProviderStatus = Literal["active", "suspended"]
KINDS: tuple[str, ...] = get_args(ProviderKind)


def checked_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper-case as ISO writes it (`MA`)."""
    if not is_country(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def checked_regions(codes: Iterable[str]) -> list[str]:
    """Moroccan region codes, without duplicates and sorted.

    The regions a provider serves are a set: sorting them makes two PATCHes that list the same
    regions in another order the same state, so the second changes nothing and emits nothing.
    An empty list means the provider is national.
    """
    codes = list(codes)
    unknown = [code for code in codes if not is_region(code)]
    if unknown:
        raise ValueError(f"unknown region codes: {', '.join(map(repr, unknown))}")
    return sorted(set(codes))
