"""HS 2022 sections and chapters, and the validation of HS codes by their chapter."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tasdir import reference

REPO = Path(__file__).resolve().parents[3]
HS_DATASET = REPO.parent / "shared" / "data" / "hs-nomenclature"

# Words too common in HS titles to say whether two titles name the same thing.
_FILLER = {"and", "or", "of", "the", "a", "thereof", "such", "other", "not", "parts", "articles"}


def _words(title: str) -> set[str]:
    # The shared dataset abbreviates; expand before comparing words.
    text = title.lower().replace("n.e.c.", "not elsewhere classified")
    text = text.replace("fertilizers", "fertilisers")
    return set(re.findall(r"[a-z]+", text)) - _FILLER


def _dataset_rows(name: str) -> list[dict[str, str]]:
    if not HS_DATASET.is_dir():
        pytest.skip(f"{HS_DATASET} is absent (it sits beside the clone in CI)")
    with (HS_DATASET / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_chapters_match_the_shared_hs_dataset() -> None:
    """Codes and sections match exactly; titles loosely.

    The dataset carries UN Comtrade's paraphrased titles ("Animals; live", "Chemical products
    n.e.c.") while we ship the WCO's legal titles, so exact text cannot match. Each of our titles
    must contain at least half of the dataset title's significant words, and most far more.
    """
    rows = {
        row["hscode"]: row
        for row in _dataset_rows("harmonized-system.csv")
        if row["level"] == "2" and row["hscode"] != "99"
    }
    ours = {c.code: c for c in reference.hs_chapters(include_reserved=False)}

    assert set(ours) == set(rows)
    assert {code: c.section for code, c in ours.items()} == {
        code: row["section"] for code, row in rows.items()
    }
    recalls = {}
    for code, chapter in ours.items():
        theirs = _words(rows[code]["description"])
        recalls[code] = len(theirs & _words(chapter.name("en"))) / len(theirs)
    assert min(recalls.values()) >= 0.5, sorted(recalls.items(), key=lambda kv: kv[1])[:5]
    assert sum(recalls.values()) / len(recalls) >= 0.9


def test_sections_match_the_shared_hs_dataset() -> None:
    rows = {row["section"]: row["name"] for row in _dataset_rows("sections.csv")}
    ours = {s.code: s for s in reference.hs_sections()}

    assert set(ours) == set(rows)
    for code, section in ours.items():
        theirs = _words(rows[code])
        assert len(theirs & _words(section.name("en"))) / len(theirs) >= 0.6, code


def test_there_are_21_sections_and_chapters_01_to_97() -> None:
    sections = reference.hs_sections()
    assert [s.number for s in sections] == list(range(1, 22))
    assert [c.code for c in reference.hs_chapters()] == [f"{n:02d}" for n in range(1, 98)]
    assert reference.hs_section("II").chapters == tuple(f"{n:02d}" for n in range(6, 15))


def test_chapter_77_is_present_but_reserved() -> None:
    reserved = reference.hs_chapter("77")
    assert reserved.reserved
    assert reserved.section == "XV"
    assert not reference.is_hs_chapter("77")
    assert "77" not in reference.valid_chapter_codes()
    assert len(reference.valid_chapter_codes()) == 96


def test_every_chapter_and_section_has_a_french_title() -> None:
    assert (
        reference.hs_chapter("08").name("fr")
        == "Fruits comestibles; écorces d'agrumes ou de melons"
    )
    assert reference.hs_section("XI").name("fr") == "Matières textiles et ouvrages en ces matières"
    for section in reference.hs_sections():
        assert section.name("fr") and section.name("en")
    for chapter in reference.hs_chapters():
        assert chapter.name("fr") and chapter.name("en")


@pytest.mark.parametrize(("code", "chapter"), [("08", "08"), ("0805", "08"), ("080510", "08")])
def test_valid_codes_give_their_chapter(code: str, chapter: str) -> None:
    assert reference.hs_chapter_of(code) == chapter
    assert reference.is_valid_hs_code(code)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("7701", "reserved"),
        ("77", "reserved"),
        ("9901", "does not exist"),
        ("98", "does not exist"),
        ("00", "does not exist"),
        ("08a5", "digits"),
        ("080", "digits"),
        ("08051", "digits"),
        ("08051012", "digits"),
        ("", "digits"),
        (" 0805", "digits"),
        ("0805\n", "digits"),
        ("٠٨٠٥", "digits"),
    ],
)
def test_invalid_codes_are_rejected_with_a_reason(code: str, reason: str) -> None:
    assert not reference.is_valid_hs_code(code)
    with pytest.raises(reference.InvalidHsCode, match=reason) as caught:
        reference.hs_chapter_of(code)
    assert isinstance(caught.value, ValueError)
    assert caught.value.kind == "hs_code"


def test_a_non_string_code_is_rejected() -> None:
    assert not reference.is_valid_hs_code(805)
    with pytest.raises(reference.InvalidHsCode):
        reference.hs_chapter_of(805)  # type: ignore[arg-type]


@given(st.text(alphabet="0123456789", min_size=1, max_size=8))
def test_a_digit_string_is_valid_exactly_when_even_short_and_in_a_valid_chapter(code: str) -> None:
    expected = len(code) in (2, 4, 6) and code[:2] in reference.valid_chapter_codes()
    assert reference.is_valid_hs_code(code) is expected
    if expected:
        assert reference.hs_chapter_of(code) == code[:2]
    else:
        with pytest.raises(reference.InvalidHsCode):
            reference.hs_chapter_of(code)


def test_chapter_index_numbers_the_valid_chapters_densely() -> None:
    index = reference.chapter_index()
    assert list(index) == sorted(reference.valid_chapter_codes())
    assert list(index.values()) == list(range(96))
    assert index["01"] == 0
    assert index["78"] == index["76"] + 1
