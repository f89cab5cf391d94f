"""The exporter profile: what an exporter may be, independent of storage and transport."""

from __future__ import annotations

import re

ICE_PATTERN = re.compile(r"^\d{15}$")


def is_valid_ice(ice: str) -> bool:
    """A Moroccan company id (Identifiant Commun de l'Entreprise) is 15 digits."""
    return bool(ICE_PATTERN.match(ice))
