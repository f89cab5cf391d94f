"""Choosing the display language."""

from __future__ import annotations

import pytest
from tasdir import reference


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("fr", "fr"),
        ("fr-MA,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,fr;q=0.5", "en"),
        ("de,fr;q=0.7,en;q=0.3", "fr"),
        ("fr;q=0,en", "en"),
        ("ar", "en"),
        ("*", "en"),
        ("fr;q=abc", "en"),
    ],
)
def test_pick_language_for_names(header: str | None, expected: str) -> None:
    assert reference.pick_language(header) == expected


def test_region_names_may_be_asked_in_arabic() -> None:
    lang = reference.pick_language("ar-MA,fr;q=0.8", reference.REGION_NAME_LANGS)
    assert lang == "ar"
    assert reference.region("souss-massa").name(lang) == "سوس - ماسة"


def test_a_missing_language_falls_back_to_english() -> None:
    assert reference.country("MA").name("ar") == "Morocco"
    assert reference.LocalizedText(en="x", fr="y").as_dict() == {"en": "x", "fr": "y"}
