"""A region's dashboard, from the public API's lists: the funnel of its financing requests
(requests -> matched -> referred -> offered -> closed) and the median time a provider takes to
give its first answer to a referral.

A request's status only moves forward (docs/lifecycles.md, "The status table"), so each stage
counts the requests whose status has reached it: `referred` counts those referred, offered,
declined or closed; a rejected set stops at `matched`; a withdrawn request counts as a request
only (it may have been withdrawn at any stage).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STAGES: tuple[str, ...] = ("requests", "matched", "referred", "offered", "closed")
#: The statuses that have reached each stage after the first.
REACHED: dict[str, frozenset[str]] = {
    "matched": frozenset(
        {"matched", "in_review", "referred", "rejected", "offered", "declined", "closed"}
    ),
    "referred": frozenset({"referred", "offered", "declined", "closed"}),
    "offered": frozenset({"offered", "closed"}),
    "closed": frozenset({"closed"}),
}


@dataclass(frozen=True)
class Bar:
    """One stage of the funnel, with its share of the requests (0 to 1) for the chart."""

    stage: str
    count: int
    share: float


def funnel(requests: Iterable[Mapping[str, Any]]) -> list[Bar]:
    statuses = [str(r.get("status")) for r in requests]
    total = len(statuses)
    counts = {"requests": total} | {
        stage: sum(s in reached for s in statuses) for stage, reached in REACHED.items()
    }
    return [Bar(stage, counts[stage], counts[stage] / total if total else 0.0) for stage in STAGES]


def first_answer_after(referral: Mapping[str, Any]) -> timedelta | None:
    """How long after it was sent the provider first answered a referral (its timeline's first
    `response` step); None while it has not answered."""
    steps = referral.get("timeline") or []
    answered = next((s["at"] for s in steps if s.get("kind") == "response"), None)
    if answered is None or not referral.get("sent_at"):
        return None
    return _at(answered) - _at(referral["sent_at"])


def median_first_answer(referrals: Iterable[Mapping[str, Any]]) -> tuple[timedelta | None, int]:
    """The median time to a provider's first answer, and over how many answered referrals."""
    waits = [w for w in (first_answer_after(r) for r in referrals) if w is not None]
    if not waits:
        return None, 0
    return timedelta(seconds=statistics.median(w.total_seconds() for w in waits)), len(waits)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)
