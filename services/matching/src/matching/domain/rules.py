"""The matching rules: their reason codes, the scoring configuration and the exact arithmetic
that the engine and the oracle share (docs/matching.md).

Every hard rule of a product has a reason code and a bit. An evaluation gives three masks per
product: the rules that **failed**, those that could not be checked because the exporter's
profile is **missing** the answer, and those met by a **bundle** (a guarantee or an insurance
product). Only the rules a product actually sets are evaluated: a product without a maximum
amount has no `amount_max` reason.

Money is compared in MAD centimes (integers) and percentages of pricing in millionths of a
percent (integers), so that the vectorised engine and the per-row oracle agree to the last
digit. The few comparisons of shares (export share, collateral) use the same float expression
in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray


class Rule(IntEnum):
    """A hard rule; its value is its bit in the masks, and its order the order of reasons."""

    currency = 0
    amount_min = 1
    amount_max = 2
    tenor_min = 3
    tenor_max = 4
    hs_chapters_include = 5
    hs_chapters_exclude = 6
    destinations_include = 7
    destinations_exclude = 8
    region = 9
    min_turnover = 10
    max_turnover = 11
    min_export_turnover = 12
    min_export_share = 13
    min_years_exporting = 14
    max_employees = 15
    payment_terms = 16
    audited_accounts = 17
    min_collateral = 18
    guarantee = 19
    insurance = 20
    valid_from = 21
    valid_to = 22

    @property
    def bit(self) -> int:
        return 1 << self.value


RULES: tuple[Rule, ...] = tuple(Rule)

#: The rules that read the exporter's profile, and the profile answers each one needs: when one
#: of them is missing the rule is "one answer away" rather than failed.
PROFILE_ANSWERS: dict[Rule, tuple[str, ...]] = {
    Rule.min_turnover: ("annual_turnover_mad",),
    Rule.max_turnover: ("annual_turnover_mad",),
    Rule.min_export_turnover: ("export_turnover_mad",),
    Rule.min_export_share: ("annual_turnover_mad", "export_turnover_mad"),
    Rule.min_years_exporting: ("exporting_since",),
    Rule.max_employees: ("employees",),
    Rule.audited_accounts: ("audited_accounts",),
    Rule.min_collateral: ("collateral_available_mad",),
}

#: `min_collateral`: collateral (centimes) x this >= percentage (millionths) x amount (centimes),
#: that is collateral / amount >= percentage / 100, in exact integers.
COLLATERAL_SCALE = 100 * 1_000_000

#: The rules a bundle can meet.
BUNDLE_RULES: int = Rule.guarantee.bit | Rule.insurance.bit


@cache
def bits(mask: int) -> tuple[Rule, ...]:
    """The rules of a mask, in rule order (cached: a catalogue has few distinct masks)."""
    return tuple(rule for rule in RULES if mask & (1 << rule.value))


def popcount(mask: int) -> int:
    return int(mask).bit_count()


# --- tiers ------------------------------------------------------------------------------------

ELIGIBLE = 0
CONDITIONAL = 1
EXCLUDED = 2
TIER_NAMES = ("eligible", "conditional", "excluded")

# --- scoring ----------------------------------------------------------------------------------

#: The score's components, in the order of `ScoringConfig.weights`.
COMPONENTS: tuple[str, ...] = ("cost", "amount_fit", "speed", "cover", "strategic")
#: Components are integers in units of 1/10,000 (4 decimals); scores in units of 1/100.
UNIT = 10_000


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """The documented weights and thresholds of the score (configuration: `TASDIR_MATCHING_*`).

    `weights` are whole percentage points summing to 100, one per component of `COMPONENTS`.
    """

    weights: tuple[int, int, int, int, int] = (35, 15, 15, 20, 15)
    #: A conditional match's score is cut by this many percent.
    conditional_penalty_pct: int = 20
    #: An all-in cost at or above this (in hundredths of a percent a year) scores 0 on cost.
    cost_ceiling_cp: int = 2_000
    #: A decision in this many days or more scores 0 on speed; one the same day scores 1.
    speed_ceiling_days: int = 90
    #: The amount-fit component of a product without a maximum amount (units of 1/10,000).
    amount_fit_unbounded: int = 5_000
    #: Blocs whose member countries make a destination strategic.
    priority_blocs: tuple[str, ...] = ("afcfta",)

    def __post_init__(self) -> None:
        if len(self.weights) != len(COMPONENTS) or any(w < 0 for w in self.weights):
            raise ValueError(f"one weight of 0 or more per component {COMPONENTS}")
        if sum(self.weights) != 100:
            raise ValueError(f"the weights sum to {sum(self.weights)}, not 100")
        if not 0 <= self.conditional_penalty_pct <= 100:
            raise ValueError("the conditional penalty is a percentage from 0 to 100")
        if self.cost_ceiling_cp <= 0 or self.speed_ceiling_days <= 0:
            raise ValueError("the cost and speed ceilings are above 0")
        if not 0 <= self.amount_fit_unbounded <= UNIT:
            raise ValueError("the unbounded amount fit is from 0 to 10000")


# --- exact arithmetic, on Python ints and numpy int64 arrays alike ------------------------------

N = TypeVar("N", int, NDArray[np.int64])


def div_half_even(numerator: N, denominator: int | N) -> N:
    """`numerator / denominator` rounded half-even, for numerator >= 0 and denominator > 0."""
    quotient = numerator // denominator
    twice_rest = 2 * (numerator - quotient * denominator)
    up = (twice_rest > denominator) | ((twice_rest == denominator) & (quotient % 2 == 1))
    return quotient + up


def all_in_cost_cp(rate_u: N, one_off_u: N, tenor_days: int | N) -> N:
    """The yearly all-in cost in hundredths of a percent, half-even: the indicative rate plus the
    one-off fees and premiums spread over the tenor (`one_off * 365 / tenor`). Inputs are in
    millionths of a percent."""
    return div_half_even(rate_u * tenor_days + one_off_u * 365, tenor_days * 10_000)


def ceiling_component(value: N, ceiling: int) -> N:
    """1 at 0, falling linearly to 0 at `ceiling` and beyond, in units of 1/10,000."""
    room = ceiling - value
    return div_half_even(room * (room > 0) * UNIT, ceiling)


def score_cp(weighted: N, penalty_pct: int | N) -> N:
    """The 0-100 score in hundredths, from `sum(weight% * component)` less a penalty percentage."""
    return div_half_even(weighted * (100 - penalty_pct), UNIT)
