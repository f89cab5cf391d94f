"""The result of evaluating one product for one request, as the engine and the oracle give it."""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

from matching.domain.rules import COMPONENTS, ELIGIBLE, EXCLUDED, TIER_NAMES, UNIT, popcount


class Outcome(NamedTuple):
    """One product's outcome (a named tuple: thousands are built per evaluation). Masks are
    bits of `Rule`; money and scores are exact integers.

    - `failed`: the rules that failed; any one of them excludes the product.
    - `missing`: the rules the exporter's profile has no answer for yet.
    - `bundled`: the rules a bundle meets (`guarantee`, `insurance`).
    - `guarantee`, `insurance`: the bundled products, if any.
    - `cost_cp`: the all-in cost in hundredths of a percent a year (None without any pricing).
    - `score_cp`: the score in hundredths (0 to 10,000); `components` in units of 1/10,000.
      Both are None for an excluded product.
    """

    product_id: UUID
    tier: int
    present: int
    failed: int
    missing: int
    bundled: int
    guarantee: UUID | None = None
    insurance: UUID | None = None
    cost_cp: int | None = None
    score_cp: int | None = None
    components: tuple[int, ...] | None = None

    @property
    def tier_name(self) -> str:
        return TIER_NAMES[self.tier]

    @property
    def matched(self) -> bool:
        return self.tier != EXCLUDED

    @property
    def bundle(self) -> tuple[UUID, ...]:
        return tuple(p for p in (self.guarantee, self.insurance) if p is not None)

    @property
    def misses(self) -> int:
        """How far from fitting: the number of rules failed or unanswered."""
        return popcount(self.failed | self.missing)

    def rank_key(self) -> tuple[int, int, int, int]:
        """Matches rank by score, then eligible before conditional, then the lower cost, then
        the product id; every tie is broken, so the order is total."""
        cost = self.cost_cp if self.cost_cp is not None else 1 << 62
        return (-(self.score_cp or 0), self.tier, cost, self.product_id.int)

    def miss_key(self) -> tuple[int, int]:
        """Excluded products rank nearest first: the fewest failing rules, then the product id."""
        return (self.misses, self.product_id.int)

    def score(self) -> float:
        return (self.score_cp or 0) / 100

    def score_components(self) -> dict[str, float]:
        if self.components is None:
            return {}
        return {name: value / UNIT for name, value in zip(COMPONENTS, self.components, strict=True)}

    def all_in_cost_pct(self) -> float | None:
        return None if self.cost_cp is None else self.cost_cp / 100


def ranked(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    """The matches in rank order, and the excluded products nearest first."""
    matches = sorted((o for o in outcomes if o.matched), key=Outcome.rank_key)
    misses = sorted((o for o in outcomes if not o.matched), key=Outcome.miss_key)
    return matches, misses


@dataclass(frozen=True)
class Kept:
    """A request's evaluation as its match set keeps it: every match ranked, the nearest misses
    (at most as many as a set keeps), and how many products were excluded in all."""

    matches: tuple[Outcome, ...]
    misses: tuple[Outcome, ...]
    excluded_total: int


def merged(
    kept: Kept, changed: UUID, before: Outcome | None, after: Outcome | None, limit: int
) -> Kept | None:
    """`kept` with the outcome of product `changed` replaced, without evaluating anything else:
    `before` is what it gave the request (None: absent or out of its scope), `after` what it
    gives now. Every other product's outcome is unchanged when the product is not a guarantee
    or an insurance product, so the matches are exact. The misses are too, unless a kept miss
    leaves a full list whose next one is not held: then None (evaluate the request in full)."""
    matches = [o for o in kept.matches if o.product_id != changed]
    misses = [o for o in kept.misses if o.product_id != changed]
    total = kept.excluded_total - _excluded(before) + _excluded(after)
    if len(misses) < len(kept.misses) and kept.excluded_total > len(kept.misses):
        # A held miss left, and misses not held rank after the last one held: the page is
        # known only if what is held still fills it.
        boundary = kept.misses[-1].miss_key()
        known = len(misses) + int(_excluded(after) == 1 and after.miss_key() <= boundary)  # type: ignore[union-attr]
        if known < min(limit, total):
            return None
    if after is not None:
        insort(matches if after.matched else misses, after, key=_key_of(after))
    return Kept(tuple(matches), tuple(misses[:limit]), total)


def _key_of(outcome: Outcome) -> Callable[[Outcome], tuple[int, ...]]:
    return Outcome.rank_key if outcome.matched else Outcome.miss_key


def _excluded(outcome: Outcome | None) -> int:
    return int(outcome is not None and not outcome.matched)


__all__ = ["ELIGIBLE", "Kept", "Outcome", "merged", "ranked"]
