"""What the `tasdir` commands print, as rich tables made for a person to read: the reference
data, financing requests, and a match set with its reasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

#: How each reason status is shown.
MARKS = {
    "passed": ("pass", "green"),
    "bundled": ("bundled", "cyan"),
    "missing": ("missing", "yellow"),
    "failed": ("FAIL", "red"),
}
TIERS = {"eligible": "green", "conditional": "yellow", "excluded": "red"}


def money(amount: Any, currency: str | None = None) -> str:
    """`1800000.00` as `1,800,000` (cents only when there are some), with its currency."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return f"{amount} {currency or ''}".strip()
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f} %"


def name_of(names: Any, lang: str = "en") -> str:
    if isinstance(names, Mapping):
        return str(names.get(lang) or names.get("en") or next(iter(names.values()), ""))
    return str(names)


def reasons(entry: Mapping[str, Any], only: Iterable[str] | None = None) -> Table:
    """A match's or a miss's reasons, one per line, each with its status."""
    wanted = set(only) if only is not None else None
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for reason in entry.get("reasons") or []:
        status = str(reason.get("status"))
        if wanted is not None and status not in wanted:
            continue
        mark, style = MARKS.get(status, (status, ""))
        grid.add_row(Text(mark, style=style), str(reason.get("message") or reason.get("code")))
    return grid


def bundle_text(entry: Mapping[str, Any], lang: str, providers: Mapping[str, str]) -> str:
    parts = []
    for item in entry.get("bundle") or []:
        who = providers.get(str(item.get("provider_id")), "")
        cover = f", {item['cover_pct']:g} % cover" if item.get("cover_pct") is not None else ""
        parts.append(f"{item.get('role')}: {name_of(item.get('name'), lang)} ({who}{cover})")
    return "\n".join(parts) or "-"


def matches_table(
    match_set: Mapping[str, Any],
    providers: Mapping[str, str],
    lang: str = "en",
    *,
    with_reasons: bool = True,
) -> Table:
    table = Table(
        title="Matches, best first", box=box.SIMPLE_HEAVY, show_lines=with_reasons, expand=False
    )
    table.add_column("#", justify="right")
    table.add_column("product")
    table.add_column("tier")
    table.add_column("score", justify="right")
    table.add_column("all-in", justify="right")
    table.add_column("bundled with")
    if with_reasons:
        table.add_column("reasons")
    for rank, entry in enumerate(match_set.get("matches") or [], start=1):
        tier = str(entry.get("tier"))
        product = Text(name_of(entry.get("name"), lang), style="bold")
        product.append(f"\n{providers.get(str(entry.get('provider_id')), '')}", style="dim")
        product.append(f"\n{entry.get('instrument')}", style="dim")
        missing = entry.get("missing") or []
        if missing:
            product.append(f"\nanswers missing: {', '.join(missing)}", style="yellow")
        row: list[RenderableType] = [
            str(rank),
            product,
            Text(tier, style=TIERS.get(tier, "")),
            f"{entry.get('score')}",
            percent(entry.get("all_in_cost_pct")),
            bundle_text(entry, lang, providers),
        ]
        if with_reasons:
            row.append(reasons(entry))
        table.add_row(*row)
    return table


def excluded_table(
    items: Iterable[Mapping[str, Any]],
    providers: Mapping[str, str],
    lang: str = "en",
    *,
    title: str = "Why not: the nearest misses",
) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAVY, show_lines=True)
    table.add_column("product")
    table.add_column("why not")
    for entry in items:
        product = Text(name_of(entry.get("name"), lang), style="bold")
        product.append(f"\n{providers.get(str(entry.get('provider_id')), '')}", style="dim")
        table.add_row(product, reasons(entry, only=("failed", "missing")))
    return table


def match_set_view(
    match_set: Mapping[str, Any],
    providers: Mapping[str, str],
    lang: str = "en",
    *,
    excluded: int = 10,
) -> Group:
    """A request's match set: a header, the ranked matches with every reason, the nearest
    misses with the rules they fail, and the audit trail."""
    header = Text()
    header.append(f"Match set of request {match_set.get('request_id')}", style="bold")
    header.append(
        f"\nregion {match_set.get('region')}, status {match_set.get('status')}, "
        f"version {match_set.get('version')}, computed {match_set.get('computed_at')}; "
        f"matches: {len(match_set.get('matches') or [])}, "
        f"products excluded: {match_set.get('excluded_total')}"
    )
    parts: list[RenderableType] = [
        header,
        matches_table(match_set, providers, lang, with_reasons=False),
    ]
    for rank, entry in enumerate(match_set.get("matches") or [], start=1):
        title = Text(f"{rank}. {name_of(entry.get('name'), lang)}", style="bold")
        title.append(f", {providers.get(str(entry.get('provider_id')), '')}: its reasons")
        parts += [title, Padding(reasons(entry), (0, 0, 1, 4))]
    misses = list(match_set.get("excluded") or [])[:excluded]
    if misses:
        parts.append(excluded_table(misses, providers, lang))
    audit = match_set.get("audit") or []
    if audit:
        trail = Table(title="Audit trail", box=box.SIMPLE)
        for column in ("at", "action", "by", "version", "note"):
            trail.add_column(column)
        for step in audit:
            by = step.get("actor") or step.get("actor_role") or ""
            trail.add_row(
                str(step.get("at")),
                str(step.get("action")),
                str(by),
                str(step.get("match_set_version")),
                str(step.get("note") or ""),
            )
        parts.append(trail)
    return Group(*parts)


def requests_table(items: Iterable[Mapping[str, Any]], title: str = "Financing requests") -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAVY)
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("organisation", "region", "status", "instrument"):
        table.add_column(column)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("tenor", justify="right", no_wrap=True)
    table.add_column("to")
    table.add_column("HS")
    for item in items:
        table.add_row(
            str(item.get("id")),
            str(item.get("org")),
            str(item.get("region")),
            str(item.get("status")),
            str(item.get("instrument")),
            money(item.get("amount"), str(item.get("currency"))),
            f"{item.get('tenor_days')} d",
            str(item.get("destination")),
            ", ".join(item.get("hs_codes") or []),
        )
    return table


#: The columns of each reference list, in order (the others are left out).
REFERENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "regions": ("code", "name", "seat"),
    "countries": ("code", "alpha3", "name", "blocs"),
    "blocs": ("code", "name", "members"),
    "world-regions": ("code", "m49", "name", "parent"),
    "currencies": ("code", "name", "minor_units"),
    "hs-chapters": ("code", "name", "section", "section_name"),
    "instruments": ("code", "name", "family", "requestable", "rules"),
    "fx": ("currency", "rate"),
}


def _cell(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("code") or value.get("name") or value)
    if isinstance(value, list):
        shown = ", ".join(_cell(v) for v in value[:12])
        return shown + (f", ... ({len(value)})" if len(value) > 12 else "")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def reference_table(kind: str, items: Sequence[Mapping[str, Any]], source: str = "") -> Table:
    wanted = REFERENCE_COLUMNS.get(kind, ())
    present = [c for c in wanted if any(c in item for item in items)]
    if not present and items:
        present = [k for k, v in items[0].items() if not isinstance(v, dict | list)][:6]
    table = Table(title=f"{kind} ({len(items)})", caption=source or None, box=box.SIMPLE_HEAVY)
    for column in present:
        table.add_column(column.replace("_", " "), no_wrap=column in ("code", "currency"))
    for item in items:
        table.add_row(*(_cell(item.get(column)) for column in present))
    return table


__all__ = [
    "excluded_table",
    "match_set_view",
    "matches_table",
    "money",
    "name_of",
    "percent",
    "reasons",
    "reference_table",
    "requests_table",
]
