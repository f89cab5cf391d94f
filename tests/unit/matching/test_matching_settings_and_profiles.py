"""Matching's own settings are checked at start, naming the variable to fix; and the profile
answers the engine derives itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from matching.config import MatchingSettings, check_matching_settings, get_matching_settings
from matching.domain.facts import Profile
from tasdir.contracts import events
from tasdir.settings import SettingsError


@pytest.fixture(autouse=True)
def fresh_settings() -> object:
    get_matching_settings.cache_clear()
    yield
    get_matching_settings.cache_clear()


def test_the_defaults_are_the_documented_weights() -> None:
    scoring = MatchingSettings().scoring()
    assert scoring.weights == (35, 15, 15, 20, 15)
    assert (scoring.conditional_penalty_pct, scoring.cost_ceiling_cp) == (20, 2000)
    assert scoring.priority_blocs == ("afcfta",)


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("TASDIR_MATCHING_WEIGHT_COST", "36", "sum to 101, not 100"),
        ("TASDIR_MATCHING_WEIGHT_COVER", "-1", "TASDIR_MATCHING_WEIGHT_COVER"),
        ("TASDIR_MATCHING_PRIORITY_BLOCS", "afcfta,ecowass", "ecowass"),
        ("TASDIR_MATCHING_NEAREST_MISSES", "many", "TASDIR_MATCHING_NEAREST_MISSES"),
    ],
)
def test_a_bad_setting_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=said):
        check_matching_settings()


def test_two_priority_blocs_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASDIR_MATCHING_PRIORITY_BLOCS", " afcfta , ecowas ")
    assert check_matching_settings().scoring().priority_blocs == ("afcfta", "ecowas")


def snapshot(**changes: object) -> events.ExporterUpdated:
    fields: dict[str, object] = {
        "id": "00000000-0000-0000-0000-000000000007",
        "org": "org-7",
        "status": "active",
        "legal_name": "Atlas Agrumes SARL",
        "ice": "001234567000089",
        "region": "souss-massa",
    }
    return events.ExporterUpdated.model_validate({**fields, **changes})


def test_years_of_exporting_count_to_this_year_not_to_the_event() -> None:
    sent_last_year = snapshot(exporting_since=2019, years_exporting=6)
    assert Profile.of(sent_last_year, date(2026, 11, 30)).years_exporting == 7
    assert Profile.of(sent_last_year, date(2027, 1, 2)).years_exporting == 8
    assert Profile.of(snapshot(years_exporting=3)).years_exporting == 3
    assert Profile.of(snapshot()).years_exporting is None


def test_a_zero_turnover_is_a_zero_export_share() -> None:
    profile = Profile.of(snapshot(annual_turnover_mad=Decimal(0), export_turnover_mad=Decimal(0)))
    assert profile.export_share_pct == 0.0
    assert Profile.of(snapshot()).export_share_pct is None
