"""The exporter profile's rules and derived fields, on the aggregate alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from exporters.domain.exporter import DerivationRules, Exporter, ExportLine, Profile
from tasdir.contracts import events
from tasdir.errors import Conflict, Invalid

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RULES = DerivationRules()


def line(hs: str, destination: str, share: str) -> ExportLine:
    return ExportLine(hs, destination, Decimal(share))


def profile(**changes: object) -> Profile:
    base = Profile(
        legal_name="Atlas Agrumes SARL",
        ice="001234567000089",
        region="souss-massa",
        legal_form="SARL",
        founded_year=2004,
        exporting_since=2009,
        employees=120,
        annual_turnover_mad=Decimal("48000000"),
        export_turnover_mad=Decimal("36000000"),
        exports=(line("0805", "FR", "70"), line("0805", "ES", "20"), line("0702", "FR", "10")),
        audited_accounts=True,
        collateral_available_mad=Decimal("2500000"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def registered(**changes: object) -> Exporter:
    exporter, _ = Exporter.register(org="atlas", profile=profile(**changes), rules=RULES, now=NOW)
    return exporter


def fields_of(refused: pytest.ExceptionInfo[Invalid]) -> set[str]:
    return {error["field"] for error in refused.value.extra["errors"]}


INVALID = {
    "ice-short": ({"ice": "12345"}, "ice"),
    "ice-arabic-indic": ({"ice": "\u0660" * 15}, "ice"),
    "region-unknown": ({"region": "atlantis"}, "region"),
    "name-blank": ({"legal_name": "  "}, "legal_name"),
    "name-nul": ({"legal_name": "A\u0000B"}, "legal_name"),
    "form-bidi": ({"legal_form": "S\u202eA"}, "legal_form"),
    "founded-future": ({"founded_year": 2027}, "founded_year"),
    "founded-ancient": ({"founded_year": 1200}, "founded_year"),
    "since-future": ({"exporting_since": 2030}, "exporting_since"),
    "since-before-founded": ({"exporting_since": 2000}, "exporting_since"),
    "employees-negative": ({"employees": -1}, "employees"),
    "turnover-negative": ({"annual_turnover_mad": Decimal(-1)}, "annual_turnover_mad"),
    "export-turnover-negative": ({"export_turnover_mad": Decimal(-5)}, "export_turnover_mad"),
    "export-over-turnover": ({"export_turnover_mad": Decimal("48000001")}, "export_turnover_mad"),
    "collateral-negative": ({"collateral_available_mad": Decimal(-1)}, "collateral_available_mad"),
    "hs-unknown": ({"exports": (line("7700", "FR", "10"),)}, "exports.0.hs_code"),
    "hs-malformed": ({"exports": (line("080", "FR", "10"),)}, "exports.0.hs_code"),
    "destination-unknown": ({"exports": (line("0805", "XX", "10"),)}, "exports.0.destination"),
    "destination-bloc": ({"exports": (line("0805", "eu", "10"),)}, "exports.0.destination"),
    "share-zero": ({"exports": (line("0805", "FR", "0"),)}, "exports.0.share_pct"),
    "share-over-100": ({"exports": (line("0805", "FR", "101"),)}, "exports.0.share_pct"),
    "shares-sum-over-100": (
        {"exports": (line("0805", "FR", "60"), line("0805", "ES", "40.01"))},
        "exports",
    ),
    "line-twice": ({"exports": (line("0805", "FR", "10"), line("0805", "FR", "5"))}, "exports.1"),
}


@pytest.mark.parametrize(("changes", "field"), list(INVALID.values()), ids=list(INVALID))
def test_each_rule_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        Exporter.register(org="atlas", profile=profile(**changes), rules=RULES, now=NOW)
    assert field in fields_of(refused)
    assert refused.value.kind == "invalid-exporter"


def test_every_broken_rule_is_named_at_once() -> None:
    with pytest.raises(Invalid) as refused:
        Exporter.register(
            org="atlas",
            profile=profile(ice="1", region="x", employees=-2),
            rules=RULES,
            now=NOW,
        )
    assert fields_of(refused) == {"ice", "region", "employees"}


def test_registration_derives_the_flags_and_raises_registered() -> None:
    exporter, registered_event = Exporter.register(
        org="atlas", profile=profile(), rules=RULES, now=NOW
    )
    assert exporter.export_share_pct == 75.0
    assert exporter.is_mono_market is True  # FR: 80 of 100
    assert exporter.is_mono_product is True  # 0805: 90 of 100
    assert exporter.years_exporting(NOW.date()) == 17
    assert exporter.hs_chapters == ("07", "08")
    assert isinstance(registered_event, events.ExporterRegistered)
    assert registered_event.years_exporting == 17
    assert registered_event.exports[0].share_pct == 70.0
    assert exporter.version == 1


def test_the_flags_follow_the_thresholds_and_the_declared_shares() -> None:
    spread = profile(exports=(line("0805", "FR", "50"), line("0702", "DE", "30")))
    assert registered(exports=spread.exports).is_mono_market is False
    # Judged on what is declared: 40 of 50 declared is 80 %.
    partial = (line("0805", "FR", "40"), line("0805", "NG", "10"))
    assert registered(exports=partial).is_mono_market is True
    strict = DerivationRules(mono_market_threshold_pct=Decimal(90))
    exporter, _ = Exporter.register(
        org="atlas", profile=profile(exports=partial), rules=strict, now=NOW
    )
    assert exporter.is_mono_market is False
    # A chapter-level code counts as its own heading.
    mixed = (line("08", "FR", "50"), line("0805", "FR", "50"))
    assert registered(exports=mixed).is_mono_product is False


def test_unknown_inputs_leave_the_derived_fields_unknown() -> None:
    bare = registered(
        exports=(), annual_turnover_mad=None, export_turnover_mad=None, exporting_since=None
    )
    assert bare.is_mono_market is None and bare.is_mono_product is None
    assert bare.export_share_pct is None and bare.years_exporting(NOW.date()) is None
    zero = registered(annual_turnover_mad=Decimal(0), export_turnover_mad=Decimal(0))
    assert zero.export_share_pct is None


def test_a_revision_that_changes_nothing_raises_nothing() -> None:
    exporter = registered()
    assert exporter.revise({}, rules=RULES, now=NOW) is None
    assert exporter.revise({"legal_name": " Atlas Agrumes SARL "}, rules=RULES, now=NOW) is None
    assert exporter.version == 1


def test_a_revision_bumps_the_version_and_derives_again() -> None:
    exporter = registered()
    updated = exporter.revise(
        {"exports": (line("0805", "FR", "40"), line("0805", "CI", "40"))}, rules=RULES, now=NOW
    )
    assert isinstance(updated, events.ExporterUpdated)
    assert exporter.version == 2 and exporter.is_mono_market is False
    assert updated.is_mono_market is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "x"}, "id"),
        ({"org": "other"}, "org"),
        ({"status": "active"}, "status"),
        ({"is_mono_market": False}, "is_mono_market"),
        ({"legal_name": None}, "legal_name"),
        ({"ice": None}, "ice"),
    ],
)
def test_read_only_fields_and_nulls_for_required_fields_are_refused(
    changes: dict[str, object], field: str
) -> None:
    exporter = registered()
    with pytest.raises(Invalid) as refused:
        exporter.revise(changes, rules=RULES, now=NOW)
    assert fields_of(refused) == {field}
    assert exporter.version == 1


def test_optional_fields_may_be_cleared() -> None:
    exporter = registered()
    assert exporter.revise({"employees": None}, rules=RULES, now=NOW) is not None
    assert exporter.employees is None


def test_deactivation_is_once_and_stops_revisions() -> None:
    exporter = registered()
    stopped = exporter.deactivate(NOW)
    assert isinstance(stopped, events.ExporterDeactivated)
    assert stopped.status == "deactivated" and exporter.version == 2
    assert exporter.deactivate(NOW) is None
    with pytest.raises(Conflict):
        exporter.revise({"employees": 3}, rules=RULES, now=NOW)


def test_a_bad_threshold_stops_the_service_at_start_and_names_its_variable() -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "TASDIR_ENVIRONMENT": "development",
        "TASDIR_EXPORTERS_MONO_MARKET_THRESHOLD_PCT": "150",
    }
    done = subprocess.run(
        [sys.executable, "-m", "exporters", "api", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "TASDIR_EXPORTERS_MONO_MARKET_THRESHOLD_PCT" in done.stderr


def test_a_future_founding_year_is_named_once() -> None:
    with pytest.raises(Invalid) as refused:
        Exporter.register(org="a", profile=profile(founded_year=2099), rules=RULES, now=NOW)
    assert fields_of(refused) == {"founded_year"}
