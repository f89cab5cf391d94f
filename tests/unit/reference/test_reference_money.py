"""Currencies, minor units, the FX table and its override, and rounding of conversions."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tasdir import reference
from tasdir.settings import Settings

pytestmark = pytest.mark.usefixtures("fresh_reference")


def _write_table(path: Path, rates: dict[str, object], **meta: object) -> Path:
    body = {
        "meta": {
            "dataset": "fx_mad",
            "version": "2.0.0",
            "as_of": "2026-06-30",
            "source": "test table",
            "source_url": "https://example.org/fx",
            "indicative": True,
            "notes": [],
            **meta,
        },
        "base": "MAD",
        "rates": rates,
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("code", "units"),
    [
        ("MAD", 2),
        ("EUR", 2),
        ("USD", 2),
        ("XOF", 0),
        ("XAF", 0),
        ("JPY", 0),
        ("KRW", 0),
        ("TND", 3),
        ("KWD", 3),
        ("BHD", 3),
        ("CLF", 4),
    ],
)
def test_minor_units_follow_iso_4217(code: str, units: int) -> None:
    assert reference.minor_units(code) == units


def test_currencies_have_french_names_and_exclude_non_currency_units() -> None:
    assert reference.currency("MAD").name("fr") == "Dirham marocain"
    assert reference.is_currency("NGN")
    for code in ("XAU", "XDR", "XXX", "XTS", "mad", "EURO", None):
        assert not reference.is_currency(code)
    with pytest.raises(reference.UnknownReferenceCode):
        reference.minor_units("XAU")


def test_quantize_rounds_half_even_to_the_minor_units() -> None:
    assert reference.quantize(Decimal("10.125"), "MAD") == Decimal("10.12")
    assert reference.quantize(Decimal("10.135"), "MAD") == Decimal("10.14")
    assert reference.quantize(Decimal("2.5"), "XOF") == Decimal("2")
    assert reference.quantize(Decimal("3.5"), "XOF") == Decimal("4")
    assert reference.quantize(Decimal("1.23456"), "TND") == Decimal("1.235")
    assert reference.quantize(7, "EUR") == Decimal("7.00")


def test_floats_are_refused_as_amounts() -> None:
    with pytest.raises(TypeError):
        reference.to_mad(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        reference.to_mad(Decimal("NaN"), "EUR")


def test_the_packaged_table_is_dated_sourced_and_indicative() -> None:
    table = reference.fx_table()
    assert table.indicative is True
    assert table.base == "MAD"
    assert table.as_of == date(2025, 1, 31)
    assert "Bank Al-Maghrib" in table.source
    assert {"EUR", "USD", "GBP", "XOF", "EGP", "NGN"} <= set(table.rates)
    assert all(rate > 0 for rate in table.rates.values())


def test_to_mad_rounds_to_two_decimals_half_even(tmp_path: Path) -> None:
    table = reference.fx_table(_write_table(tmp_path / "fx.json", {"EUR": "10.5", "XOF": "0.01"}))
    assert reference.to_mad(Decimal("100"), "EUR", table=table) == Decimal("1050.00")
    # 0.125 MAD and 0.135 MAD: ties go to the even cent.
    assert reference.to_mad(Decimal("12.5"), "XOF", table=table) == Decimal("0.12")
    assert reference.to_mad(Decimal("13.5"), "XOF", table=table) == Decimal("0.14")
    assert reference.to_mad(Decimal("99.999"), "MAD", table=table) == Decimal("100.00")


def test_conversion_to_xof_has_no_decimals(tmp_path: Path) -> None:
    table = reference.fx_table(_write_table(tmp_path / "fx.json", {"XOF": "0.016", "EUR": "10.5"}))
    assert reference.convert(Decimal("100"), "MAD", "XOF", table=table) == Decimal("6250")
    # 10.5 / 0.016 = 656.25 XOF, rounded to the unit.
    assert reference.convert(Decimal("1.00"), "EUR", "XOF", table=table) == Decimal("656")
    assert reference.convert(Decimal("1.00"), "EUR", "XOF", table=table).as_tuple().exponent == 0


def test_conversion_between_two_foreign_currencies_goes_through_mad(tmp_path: Path) -> None:
    table = reference.fx_table(_write_table(tmp_path / "fx.json", {"EUR": "11", "USD": "10"}))
    assert reference.convert(Decimal("100"), "EUR", "USD", table=table) == Decimal("110.00")
    assert reference.convert(Decimal("100"), "USD", "EUR", table=table) == Decimal("90.91")


def test_a_currency_without_a_rate_is_reported(tmp_path: Path) -> None:
    table = reference.fx_table(_write_table(tmp_path / "fx.json", {"EUR": "10.5"}))
    with pytest.raises(reference.FxRateUnavailable) as caught:
        reference.to_mad(Decimal("1"), "JPY", table=table)
    assert caught.value.code == "JPY"
    with pytest.raises(reference.UnknownReferenceCode):
        reference.to_mad(Decimal("1"), "ABC", table=table)


def test_a_replacement_table_is_read_from_its_path(tmp_path: Path) -> None:
    path = _write_table(tmp_path / "fx.json", {"EUR": "11.00"}, indicative=False)
    table = reference.fx_table(path)
    assert table.as_of == date(2026, 6, 30)
    assert table.indicative is False
    assert table.origin == str(path.resolve())
    assert reference.to_mad(Decimal("2"), "EUR", table=table) == Decimal("22.00")
    # Without a path, the packaged table.
    assert reference.fx_table().as_of == date(2025, 1, 31)


def test_the_setting_points_at_the_replacement_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_table(tmp_path / "fx.json", {"EUR": "12"}, as_of="2026-07-01")
    monkeypatch.setenv("TASDIR_FX_TABLE", str(path))
    settings = Settings(environment="development")
    assert settings.fx_table == str(path)
    assert reference.fx_table(settings.fx_table).rates["EUR"] == Decimal("12")


def test_json_numbers_in_a_table_are_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "fx.json"
    path.write_text(
        '{"meta": {"dataset": "fx_mad", "version": "1.0.0", "as_of": "2026-01-01",'
        ' "source": "s", "source_url": "https://x", "indicative": true},'
        ' "base": "MAD", "rates": {"EUR": 10.1}}',
        encoding="utf-8",
    )
    assert reference.fx_table(path).rates["EUR"] == Decimal("10.1")


@pytest.mark.parametrize(
    ("rates", "meta"),
    [
        ({"EUR": "-1"}, {}),
        ({"EUR": "0"}, {}),
        ({"EUR": "ten"}, {}),
        ({"ABC": "1"}, {}),
        ({}, {}),
        ({"EUR": "10"}, {"indicative": "yes"}),
        ({"EUR": "10"}, {"as_of": "31/01/2025"}),
        ({"EUR": "10"}, {"source": ""}),
    ],
)
def test_a_malformed_table_is_refused(
    tmp_path: Path, rates: dict[str, object], meta: dict[str, object]
) -> None:
    with pytest.raises(reference.ReferenceDataError):
        reference.fx_table(_write_table(tmp_path / "bad.json", rates, **meta))


def test_a_missing_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(reference.ReferenceDataError):
        reference.fx_table(tmp_path / "absent.json")


@given(
    amount=st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False),
    code=st.sampled_from(["EUR", "USD", "GBP", "XOF", "EGP", "NGN", "TND", "MAD"]),
)
def test_every_conversion_is_quantized_to_the_target_minor_units(
    amount: Decimal, code: str
) -> None:
    in_mad = reference.to_mad(amount, code)
    assert in_mad.as_tuple().exponent == -2
    back = reference.convert(in_mad, "MAD", code)
    assert back.as_tuple().exponent == -reference.minor_units(code)
    assert in_mad >= 0
