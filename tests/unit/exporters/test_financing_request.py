"""A financing request's rules, and a status that only moves down its table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from exporters.domain.financing_request import RANK, Buyer, FinancingRequest, Terms
from hypothesis import given
from hypothesis import strategies as st
from tasdir.contracts import events
from tasdir.errors import Conflict, Invalid

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def terms(**changes: object) -> Terms:
    base = Terms(
        instrument="pre_export_finance",
        amount=Decimal("2500000.00"),
        currency="MAD",
        tenor_days=180,
        destination="CI",
        hs_codes=("0805",),
        purpose="new_contract",
        payment_terms="lc",
        needed_by=date(2027, 1, 15),
        buyer=Buyer("Abidjan Fresh SA", "CI"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def submitted(**changes: object) -> FinancingRequest:
    request, _ = FinancingRequest.submit(
        exporter_id=uuid4(), org="atlas", region="souss-massa", terms=terms(**changes), now=NOW
    )
    return request


INVALID = {
    "instrument-unknown": ({"instrument": "loan_shark"}, "instrument"),
    "instrument-bundled-only": ({"instrument": "export_credit_guarantee"}, "instrument"),
    "currency-unknown": ({"currency": "ABC"}, "currency"),
    "currency-lower": ({"currency": "mad"}, "currency"),
    "amount-zero": ({"amount": Decimal(0)}, "amount"),
    "amount-negative": ({"amount": Decimal(-5)}, "amount"),
    "amount-too-many-decimals": ({"amount": Decimal("10.001")}, "amount"),
    "amount-decimals-for-xof": ({"amount": Decimal("10.5"), "currency": "XOF"}, "amount"),
    "amount-huge": ({"amount": Decimal("1e20")}, "amount"),
    "amount-nan": ({"amount": Decimal("NaN")}, "amount"),
    "tenor-zero": ({"tenor_days": 0}, "tenor_days"),
    "tenor-too-long": ({"tenor_days": 3651}, "tenor_days"),
    "destination-bloc": ({"destination": "afcfta"}, "destination"),
    "destination-unknown": ({"destination": "XX"}, "destination"),
    "hs-none": ({"hs_codes": ()}, "hs_codes"),
    "hs-unknown": ({"hs_codes": ("7700",)}, "hs_codes.0"),
    "hs-twice": ({"hs_codes": ("0805", "0805")}, "hs_codes"),
    "purpose-unknown": ({"purpose": "holiday"}, "purpose"),
    "payment-terms-unknown": ({"payment_terms": "barter"}, "payment_terms"),
    "needed-by-past": ({"needed_by": date(2026, 11, 29)}, "needed_by"),
    "buyer-name-blank": ({"buyer": Buyer(" ", "CI")}, "buyer.name"),
    "buyer-country-unknown": ({"buyer": Buyer("X", "XX")}, "buyer.country"),
}


@pytest.mark.parametrize(("changes", "field"), list(INVALID.values()), ids=list(INVALID))
def test_each_rule_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        submitted(**changes)
    assert field in {e["field"] for e in refused.value.extra["errors"]}


@pytest.mark.parametrize("instrument", ["any", "post_shipment", "lc_confirmation"])
def test_an_instrument_a_family_or_any(instrument: str) -> None:
    assert submitted(instrument=instrument).instrument == instrument


def test_today_is_not_the_past_and_xof_takes_whole_amounts() -> None:
    assert submitted(needed_by=NOW.date()).needed_by == NOW.date()
    assert submitted(currency="XOF", amount=Decimal("1500000")).amount == Decimal("1500000")


def test_submitting_raises_submitted_with_the_full_snapshot() -> None:
    request, event = FinancingRequest.submit(
        exporter_id=uuid4(), org="atlas", region="souss-massa", terms=terms(), now=NOW
    )
    assert isinstance(event, events.FinancingRequestSubmitted)
    assert (event.status, event.amount, event.hs_codes) == (
        "submitted",
        Decimal("2500000.00"),
        ("0805",),
    )
    assert event.buyer is not None and event.buyer.country == "CI"
    assert request.version == 1


def test_amending_while_submitted_or_matched_only() -> None:
    request = submitted()
    assert request.amend({"tenor_days": 180}, now=NOW) is None  # nothing changes
    amended = request.amend({"tenor_days": 270, "buyer": None}, now=NOW)
    assert isinstance(amended, events.FinancingRequestAmended)
    assert (request.version, request.tenor_days, request.buyer) == (2, 270, None)
    request.advance("matched", now=NOW)
    assert request.amend({"tenor_days": 90}, now=NOW) is not None
    request.advance("in_review", now=NOW)
    with pytest.raises(Conflict):
        request.amend({"tenor_days": 60}, now=NOW)
    with pytest.raises(Invalid):
        submitted().amend({"status": "closed"}, now=NOW)


def test_withdrawing_is_final() -> None:
    request = submitted()
    withdrawn = request.withdraw(now=NOW)
    assert withdrawn.status == "withdrawn" and request.version == 2
    assert request.advance("matched", now=NOW) is False
    with pytest.raises(Conflict):
        request.withdraw(now=NOW)


def test_closing_raises_closed_once() -> None:
    request = submitted()
    for status in ("matched", "referred", "offered"):
        assert request.advance(status, now=NOW)
    closed = request.close(now=NOW)
    assert isinstance(closed, events.FinancingRequestClosed) and closed.status == "closed"
    assert request.close(now=NOW) is None
    with pytest.raises(Conflict):
        request.withdraw(now=NOW)


@given(st.lists(st.sampled_from(sorted(RANK)), max_size=12))
def test_the_status_only_moves_down_the_table(arrivals: list[str]) -> None:
    """Whatever order the events arrive in, twice or not: the status is the furthest one
    reached before a final one, and never moves back."""
    request = submitted()
    expected = "submitted"
    for status in arrivals:
        moved = request.advance(status, now=NOW)
        if expected not in ("rejected", "declined", "closed") and RANK[status] > RANK[expected]:
            expected = status
            assert moved
        else:
            assert not moved
        assert request.status == expected
    assert request.version == 1  # status moves from matching raise no event of ours


def test_declined_needs_every_referral_the_approval_made() -> None:
    request = submitted()
    assert request.all_declined(5) is False  # the approval is not known yet
    request.expect_referrals(0)
    assert request.all_declined(0) is False  # an approval of nothing declines nothing
    request.expect_referrals(2)
    assert (request.all_declined(1), request.all_declined(2)) == (False, True)
    # A further approval (the set's new fits) adds its referrals to those expected.
    request.expect_referrals(1)
    assert (request.all_declined(2), request.all_declined(3)) == (False, True)
