"""A financing request: what an exporter asks for, and how far it has come.

The status moves down one table, driven by the matching service's events, and never back:

| rank | status | reached by |
|---|---|---|
| 0 | `submitted` | the exporter submits |
| 1 | `matched` | matches are computed (`match_set.proposed`) |
| 2 | `in_review` | an advisor opens or reviews the match set |
| 3 | `referred` | the advisor approves (`review.completed`, `referral.sent`) |
| 3 | `rejected` (final) | the advisor rejects |
| 4 | `offered` | a provider answers with an offer |
| 5 | `declined` (final) | every referral is declined |
| 5 | `closed` (final) | the exporter accepts an offer (`offer.decided`) |
| none | `withdrawn` (final) | the exporter withdraws, from any status that is not final |

An event that would move the status up the table, or out of a final status, changes nothing: so
a duplicate or a late event is harmless. This is decided by the order of the statuses, never by
comparing versions of different aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypeVar
from uuid import UUID, uuid4

from tasdir.contracts import events
from tasdir.domain import Violations
from tasdir.errors import Conflict
from tasdir.reference import (
    is_country,
    is_currency,
    is_valid_hs_code,
    minor_units,
    request_targets,
)
from tasdir.text import clean_text

E = TypeVar("E", bound=events.FinancingRequestSnapshot)

RequestStatus = Literal[
    "submitted",
    "matched",
    "in_review",
    "referred",
    "rejected",
    "offered",
    "declined",
    "closed",
    "withdrawn",
]
Purpose = Literal["new_contract", "working_capital", "receivables", "market_entry"]
PaymentTerms = Literal["advance", "lc", "documentary_collection", "open_account"]
PURPOSES: tuple[str, ...] = ("new_contract", "working_capital", "receivables", "market_entry")
PAYMENT_TERMS: tuple[str, ...] = ("advance", "lc", "documentary_collection", "open_account")

RANK: dict[str, int] = {
    "submitted": 0,
    "matched": 1,
    "in_review": 2,
    "referred": 3,
    "rejected": 3,
    "offered": 4,
    "declined": 5,
    "closed": 5,
}
FINAL = frozenset({"rejected", "declined", "closed", "withdrawn"})
AMENDABLE = frozenset({"submitted", "matched"})
TENOR_MIN_DAYS, TENOR_MAX_DAYS = 1, 3650
MAX_HS_CODES = 50
MAX_AMOUNT = Decimal("1e15")
BUYER_NAME_MAX = 200


@dataclass(frozen=True)
class Buyer:
    name: str
    country: str


@dataclass(frozen=True)
class Terms:
    """What the exporter asks for; `validated` checks and cleans it."""

    instrument: str
    amount: Decimal
    currency: str
    tenor_days: int
    destination: str
    hs_codes: tuple[str, ...]
    purpose: str
    payment_terms: str
    needed_by: date | None = None
    buyer: Buyer | None = None

    def validated(self, today: date) -> Terms:
        broken = Violations(kind="invalid-financing-request")
        broken.check(
            self.instrument in request_targets(),
            "instrument",
            "must be an instrument a request may name, an instrument family, or `any`",
        )
        currency_known = broken.check(
            is_currency(self.currency), "currency", "not an ISO 4217 currency"
        )
        in_range = broken.check(
            self.amount.is_finite() and Decimal(0) < self.amount < MAX_AMOUNT,
            "amount",
            f"must be more than 0 and less than {MAX_AMOUNT:,.0f}",
        )
        if currency_known and in_range:
            units = minor_units(self.currency)
            broken.check(
                self.amount == self.amount.quantize(Decimal(1).scaleb(-units)),
                "amount",
                f"{self.currency} has {units} decimals",
            )
        broken.check(
            TENOR_MIN_DAYS <= self.tenor_days <= TENOR_MAX_DAYS,
            "tenor_days",
            f"must be between {TENOR_MIN_DAYS} and {TENOR_MAX_DAYS} days",
        )
        broken.check(
            is_country(self.destination), "destination", "not an ISO 3166-1 alpha-2 country"
        )
        if broken.check(
            0 < len(self.hs_codes) <= MAX_HS_CODES,
            "hs_codes",
            f"between 1 and {MAX_HS_CODES} HS codes",
        ):
            for index, code in enumerate(self.hs_codes):
                broken.check(
                    is_valid_hs_code(code),
                    f"hs_codes.{index}",
                    f"{code[:16]!r} is not an HS code (2, 4 or 6 digits of an existing chapter)",
                )
            broken.check(len(set(self.hs_codes)) == len(self.hs_codes), "hs_codes", "a code twice")
        broken.check(self.purpose in PURPOSES, "purpose", f"one of {', '.join(PURPOSES)}")
        broken.check(
            self.payment_terms in PAYMENT_TERMS,
            "payment_terms",
            f"one of {', '.join(PAYMENT_TERMS)}",
        )
        if self.needed_by is not None:
            broken.check(self.needed_by >= today, "needed_by", "must not be in the past")
        buyer = self.buyer
        if buyer is not None:
            try:
                buyer = Buyer(clean_text(buyer.name, max_length=BUYER_NAME_MAX), buyer.country)
            except ValueError as exc:
                broken.add("buyer.name", str(exc))
            broken.check(
                is_country(buyer.country), "buyer.country", "not an ISO 3166-1 alpha-2 country"
            )
        broken.raise_if_any()
        amount = self.amount.quantize(Decimal(1).scaleb(-minor_units(self.currency)))
        return replace(self, buyer=buyer, amount=amount)


TERMS_FIELDS = tuple(f.name for f in fields(Terms))


@dataclass(eq=False)
class FinancingRequest:
    id: UUID
    exporter_id: UUID
    org: str
    # The exporter's region when it submitted: the advisors of that region work the request.
    region: str
    status: str
    instrument: str
    amount: Decimal
    currency: str
    tenor_days: int
    destination: str
    hs_codes: tuple[str, ...]
    purpose: str
    payment_terms: str
    needed_by: date | None
    buyer: Buyer | None
    version: int
    created_at: datetime
    updated_at: datetime
    # How many referrals the advisor's approval made (one per approved product); the request
    # is declined once that many are declined. Unknown until the review is known.
    referrals_expected: int | None = None

    @classmethod
    def submit(
        cls,
        *,
        exporter_id: UUID,
        org: str,
        region: str,
        terms: Terms,
        now: datetime,
    ) -> tuple[FinancingRequest, events.FinancingRequestSubmitted]:
        clean = terms.validated(now.date())
        request = cls(
            id=uuid4(),
            exporter_id=exporter_id,
            org=org,
            region=region,
            status="submitted",
            version=1,
            created_at=now,
            updated_at=now,
            **{name: getattr(clean, name) for name in TERMS_FIELDS},
        )
        return request, events.FinancingRequestSubmitted.model_validate(request.snapshot())

    @property
    def terms(self) -> Terms:
        return Terms(**{name: getattr(self, name) for name in TERMS_FIELDS})

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def amend(
        self, changes: Mapping[str, object], *, now: datetime
    ) -> events.FinancingRequestAmended | None:
        if self.status not in AMENDABLE:
            raise Conflict(
                f"a request can be amended while submitted or matched, not {self.status}",
                kind="request-not-amendable",
            )
        broken = Violations(kind="invalid-financing-request")
        for name, value in changes.items():
            if name not in TERMS_FIELDS:
                broken.add(name, "not a field of a request one may amend", "extra_forbidden")
            elif value is None and name not in ("needed_by", "buyer"):
                broken.add(name, "may not be null")
        broken.raise_if_any()
        revised = replace(self.terms, **changes).validated(now.date())  # type: ignore[arg-type]
        if revised == self.terms:
            return None
        for name in TERMS_FIELDS:
            setattr(self, name, getattr(revised, name))
        return self._changed(events.FinancingRequestAmended, now)

    def withdraw(self, *, now: datetime) -> events.FinancingRequestWithdrawn:
        if self.final:
            raise Conflict(f"a {self.status} request cannot be withdrawn", kind="request-final")
        self.status = "withdrawn"
        return self._changed(events.FinancingRequestWithdrawn, now)

    def advance(self, status: str, *, now: datetime) -> bool:
        """Move down the table to `status`, as a matching event says; False (nothing changes)
        when that would move it back, sideways, or out of a final status."""
        if self.final or status not in RANK or RANK[status] <= RANK[self.status]:
            return False
        self.status = status
        self.updated_at = now
        return True

    def expect_referrals(self, count: int) -> None:
        """The advisor approved `count` more products: that many more referrals will be
        answered (a set approved in part may be approved further, for its new fits). Each
        review is counted once: the inbox drops a redelivered event."""
        self.referrals_expected = (self.referrals_expected or 0) + count

    def all_declined(self, declined: int) -> bool:
        """Whether `declined` refusals answer every referral the approval made."""
        return self.referrals_expected is not None and 0 < self.referrals_expected <= declined

    def close(self, *, now: datetime) -> events.FinancingRequestClosed | None:
        """The exporter accepted an offer: the request is done."""
        if not self.advance("closed", now=now):
            return None
        return self._changed(events.FinancingRequestClosed, now)

    def _changed(self, kind: type[E], now: datetime) -> E:
        self.version += 1
        self.updated_at = now
        return kind.model_validate(self.snapshot())

    def snapshot(self) -> dict[str, object]:
        return {
            "id": self.id,
            "exporter_id": self.exporter_id,
            "org": self.org,
            "region": self.region,
            "status": self.status,
            **{name: getattr(self, name) for name in TERMS_FIELDS if name != "buyer"},
            "buyer": (
                None
                if self.buyer is None
                else {"name": self.buyer.name, "country": self.buyer.country}
            ),
        }
