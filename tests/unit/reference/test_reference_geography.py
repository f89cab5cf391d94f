"""Regions, countries and trade blocs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tasdir import reference

DESIGN_REGIONS = {
    "tanger-tetouan-al-hoceima",
    "oriental",
    "fes-meknes",
    "rabat-sale-kenitra",
    "beni-mellal-khenifra",
    "casablanca-settat",
    "marrakech-safi",
    "draa-tafilalet",
    "souss-massa",
    "guelmim-oued-noun",
    "laayoune-sakia-el-hamra",
    "dakhla-oued-ed-dahab",
}


def test_there_are_exactly_the_twelve_regions_of_the_design() -> None:
    assert reference.region_codes() == DESIGN_REGIONS
    assert [r.number for r in reference.regions()] == list(range(1, 13))


def test_each_region_has_english_french_and_arabic_names() -> None:
    casablanca = reference.region("casablanca-settat")
    assert casablanca.name("fr") == "Casablanca-Settat"
    assert casablanca.name("ar") == "الدار البيضاء - سطات"
    for region in reference.regions():
        assert region.country == "MA"
        assert region.name("en") and region.name("fr")
        assert any("\u0600" <= ch <= "\u06ff" for ch in region.name("ar")), region.code


def test_an_unknown_region_is_rejected_with_its_kind() -> None:
    assert not reference.is_region("Casablanca-Settat")
    assert not reference.is_region(None)
    with pytest.raises(reference.UnknownReferenceCode) as caught:
        reference.region("grand-casablanca")
    assert caught.value.kind == "region"
    assert isinstance(caught.value, ValueError)


def test_countries_come_from_iso_with_french_names() -> None:
    morocco = reference.country("MA")
    assert (morocco.alpha3, morocco.name("en"), morocco.name("fr")) == ("MAR", "Morocco", "Maroc")
    assert reference.country("DE").name("fr") == "Allemagne"
    assert len(reference.countries()) >= 249
    assert reference.is_country("EH")
    assert not reference.is_country("ma")
    assert not reference.is_country("XK")
    with pytest.raises(reference.UnknownReferenceCode):
        reference.country("UK")


def test_country_index_is_a_dense_stable_bit_numbering() -> None:
    index = reference.country_index()
    assert sorted(index.values()) == list(range(len(reference.countries())))
    assert list(index) == sorted(index)
    assert reference.country_index() is index


def test_every_bloc_member_is_an_iso_alpha2_code() -> None:
    for bloc in reference.blocs():
        assert bloc.members, bloc.code
        assert all(reference.is_country(member) for member in bloc.members), bloc.code


def test_bloc_codes_are_the_designed_slugs() -> None:
    assert reference.bloc_codes() == {
        "afcfta",
        "eu",
        "gcc",
        "ecowas",
        "uma",
        "comesa",
        "sadc",
        "eac",
    }
    assert not reference.bloc_codes() & reference.country_codes()


def test_afcfta_holds_its_major_state_parties() -> None:
    assert {"MA", "NG", "EG", "KE", "ZA"} <= reference.bloc_members("afcfta")
    assert "ER" not in reference.bloc_members("afcfta")


def test_the_eu_has_27_members_and_not_morocco() -> None:
    eu = reference.bloc_members("eu")
    assert len(eu) == 27
    assert {"FR", "ES", "DE"} <= eu
    assert "MA" not in eu
    assert "GB" not in eu


def test_ecowas_no_longer_holds_the_sahel_states() -> None:
    ecowas = reference.bloc("ecowas")
    assert {"NG", "SN", "CI"} <= ecowas.members
    assert not {"BF", "ML", "NE"} & ecowas.members
    assert str(ecowas.as_of) == "2025-01-29"


def test_other_blocs_hold_their_members() -> None:
    assert reference.bloc_members("uma") == {"DZ", "LY", "MA", "MR", "TN"}
    assert reference.bloc_members("gcc") == {"AE", "BH", "KW", "OM", "QA", "SA"}
    assert "ZA" in reference.bloc_members("sadc")
    assert "EG" in reference.bloc_members("comesa")
    assert "KE" in reference.bloc_members("eac")


def test_destinations_mix_countries_and_blocs() -> None:
    covered = reference.expand_destinations(["uma", "FR", "gcc"])
    assert covered == reference.bloc_members("uma") | {"FR"} | reference.bloc_members("gcc")
    assert reference.expand_destinations("eu") == reference.bloc_members("eu")
    assert reference.expand_destinations([]) == frozenset()


def test_an_unknown_destination_is_rejected() -> None:
    with pytest.raises(reference.UnknownReferenceCode) as caught:
        reference.expand_destinations(["FR", "EU"])
    assert caught.value.kind == "destination"
    assert caught.value.code == "EU"


@given(
    st.lists(
        st.sampled_from(sorted(reference.bloc_codes() | {"MA", "FR", "NG", "US", "CN"})),
        max_size=6,
    )
)
def test_expanding_destinations_is_the_union_of_each_code(codes: list[str]) -> None:
    expected: set[str] = set()
    for code in codes:
        expected |= reference.expand_destinations([code])
    assert reference.expand_destinations(codes) == expected
    assert all(reference.is_country(c) for c in expected)


def test_the_un_m49_regions_cover_every_country_but_antarctica_once() -> None:
    leaves = [
        w
        for w in reference.world_regions()
        if not any(o.parent == w.code for o in reference.world_regions())
    ]
    counted: dict[str, int] = {}
    for leaf in leaves:
        for code in leaf.members:
            counted[code] = counted.get(code, 0) + 1
    assert set(counted) == reference.country_codes() - {"AQ"}
    assert set(counted.values()) == {1}
    tops = {w.code for w in reference.world_regions() if w.parent is None}
    assert tops == {"africa", "americas", "asia", "europe", "oceania"}


def test_world_regions_are_destinations_and_expand_to_their_countries() -> None:
    assert reference.is_destination("latin-america-and-the-caribbean")
    policy = reference.expand_destinations(
        ["africa", "western-asia", "latin-america-and-the-caribbean"]
    )
    assert {"CI", "EG", "SA", "AE", "BR", "MX"} <= policy
    assert "FR" not in policy and "CN" not in policy
    assert (
        reference.world_region("sub-saharan-africa").members
        < reference.world_region("africa").members
    )
    assert "EH" in reference.world_region("northern-africa").members  # as M49 lists it
    with pytest.raises(reference.UnknownReferenceCode):
        reference.world_region("atlantis")
