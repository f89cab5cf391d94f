"""What the pages show, shaped from the API's JSON: plain data for the templates, so that the
templates hold no logic and the shaping is tested without a browser."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tasdir.reference.geography import Region, regions

JsonObject = dict[str, Any]

STATUSES: tuple[str, ...] = ("proposed", "in_review", "approved", "rejected")
#: The statuses still waiting for an advisor.
OPEN_STATUSES: tuple[str, ...] = ("proposed", "in_review")
#: A set the advisor may still approve (more of) or reject.
REVIEWABLE: tuple[str, ...] = ("proposed", "in_review", "approved")


def localised(names: Mapping[str, Any] | None, lang: str) -> str:
    """A `{"en": ..., "fr": ...}` name in `lang`, else English, else any."""
    if not names:
        return ""
    value = names.get(lang) or names.get("en") or next(iter(names.values()), "")
    return str(value or "")


@dataclass(frozen=True)
class RegionName:
    """A region as a page names it: in the page's language, and in Arabic too."""

    code: str
    name: str
    arabic: str | None


@cache
def _regions() -> dict[str, Region]:
    return {r.code: r for r in regions()}


def region_name(code: str, lang: str) -> RegionName:
    """The region's name (its code when the reference data does not know it)."""
    found = _regions().get(code)
    if found is None:
        return RegionName(code, code, None)
    return RegionName(code, found.name(lang), found.names.ar)


@dataclass(frozen=True)
class Reason:
    code: str
    status: str
    message: str


def reasons(entry: Mapping[str, Any]) -> list[Reason]:
    found = entry.get("reasons")
    return [
        Reason(str(r.get("code", "")), str(r.get("status", "")), str(r.get("message", "")))
        for r in (found if isinstance(found, list) else [])
        if isinstance(r, dict)
    ]


@dataclass(frozen=True)
class MatchRow:
    """One ranked match: the product and its bundle on one line, with its score and why."""

    rank: int
    product_id: str
    name: str
    instrument: str
    line: str
    tier: str
    score: float | None
    components: dict[str, float]
    all_in_cost_pct: float | None
    reasons: list[Reason]
    missing: list[str]
    approved: bool
    new_since_review: bool


def bundle_line(entry: Mapping[str, Any], lang: str) -> str:
    """The bank product and what comes with it: "Pre-export loan + Guarantee (70 %)"."""
    parts = [localised(entry.get("name"), lang)]
    for extra in entry.get("bundle") or []:
        cover = extra.get("cover_pct")
        name = localised(extra.get("name"), lang)
        parts.append(f"{name} ({cover:g} %)" if isinstance(cover, int | float) else name)
    return " + ".join(p for p in parts if p)


def approved_products(audit: Iterable[Mapping[str, Any]]) -> set[str]:
    return {
        str(p) for e in audit if e.get("action") == "approved" for p in e.get("product_ids") or []
    }


def match_rows(match_set: Mapping[str, Any], lang: str) -> list[MatchRow]:
    approved = approved_products(match_set.get("audit") or [])
    return [
        MatchRow(
            rank=rank,
            product_id=str(m.get("product_id")),
            name=localised(m.get("name"), lang),
            instrument=str(m.get("instrument", "")),
            line=bundle_line(m, lang),
            tier=str(m.get("tier", "")),
            score=m.get("score"),
            components=dict(m.get("score_components") or {}),
            all_in_cost_pct=m.get("all_in_cost_pct"),
            reasons=reasons(m),
            missing=[str(x) for x in m.get("missing") or []],
            approved=str(m.get("product_id")) in approved,
            new_since_review=bool(m.get("new_since_review")),
        )
        for rank, m in enumerate(match_set.get("matches") or [], start=1)
    ]


@dataclass(frozen=True)
class MissRow:
    name: str
    instrument: str
    failed: list[Reason]


def miss_rows(match_set: Mapping[str, Any], lang: str) -> list[MissRow]:
    """The nearest misses, with only the reasons that excluded them (failed or unanswered)."""
    return [
        MissRow(
            name=localised(m.get("name"), lang),
            instrument=str(m.get("instrument", "")),
            failed=[r for r in reasons(m) if r.status in ("failed", "missing")] or reasons(m),
        )
        for m in match_set.get("excluded") or []
    ]


@dataclass
class QueueCounts:
    """How many sets of each status the advisor's regions hold (`capped`: at least that)."""

    by_status: dict[str, int] = field(default_factory=dict)
    capped: bool = False

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def queue_counts(items: Iterable[Mapping[str, Any]], capped: bool) -> QueueCounts:
    counted = Counter(str(i.get("status")) for i in items)
    return QueueCounts({s: counted.get(s, 0) for s in STATUSES}, capped)


@dataclass(frozen=True)
class Step:
    """One step of a referral's timeline."""

    kind: str
    status: str
    actor_role: str
    at: str
    message: str


def timeline(referral: Mapping[str, Any]) -> list[Step]:
    """The referral's steps, oldest first: sent, the provider's answers, the exporter's
    replies, the decision on the offer."""
    steps = []
    for step in referral.get("timeline") or []:
        detail = step.get("detail") or {}
        status = str(detail.get("status") or detail.get("decision") or "")
        message = str(detail.get("message") or detail.get("reason_code") or "")
        steps.append(
            Step(str(step.get("kind")), status, str(step.get("actor_role")), step["at"], message)
        )
    return steps
