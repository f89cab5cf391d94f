"""The exporter profile: what an exporter may be, independent of storage and transport.

The aggregate owns its invariants (the rules of `Profile.validated`), its version (one per
event), its change detection (a revision that changes nothing raises nothing) and its derived
fields, computed from what the exporter gave:

- `export_share_pct`: export turnover / turnover * 100, 2 decimals; none without both, or
  with a turnover of 0;
- `is_mono_market`: one destination carries at least `mono_market_threshold_pct` (80) % of
  the declared export shares;
- `is_mono_product`: one HS heading (the code's first 4 digits; a 2-digit code counts as its
  chapter) carries at least `mono_product_threshold_pct` (80) % of them;
- `years_exporting`: this year - `exporting_since`, computed when read.

With no export lines, both flags are unknown (null). The shares are compared with the sum of the
declared shares, so a profile that declares only part of its exports is judged on that part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

from tasdir.contracts import events
from tasdir.domain import Violations
from tasdir.errors import Conflict
from tasdir.reference import is_country, is_region, is_valid_hs_code
from tasdir.text import clean_text, is_ascii_digits

ICE_LENGTH = 15
LEGAL_NAME_MAX = 200
LEGAL_FORM_MAX = 100
MAX_EXPORT_LINES = 200
EARLIEST_YEAR = 1800
MAX_EMPLOYEES = 10_000_000
HUNDRED = Decimal(100)

ExporterStatus = Literal["active", "deactivated"]


def is_valid_ice(ice: str) -> bool:
    """A Moroccan company id (Identifiant Commun de l'Entreprise) is 15 ASCII digits.

    ASCII only: Arabic-Indic or fullwidth digits would let one company register twice.
    """
    return is_ascii_digits(ice, ICE_LENGTH)


@dataclass(frozen=True)
class DerivationRules:
    """The thresholds of the derived flags (configuration: `TASDIR_EXPORTERS_*`)."""

    mono_market_threshold_pct: Decimal = Decimal(80)
    mono_product_threshold_pct: Decimal = Decimal(80)


@dataclass(frozen=True)
class ExportLine:
    """One product to one market: its HS code, its destination and its share of exports."""

    hs_code: str
    destination: str
    share_pct: Decimal

    @property
    def heading(self) -> str:
        return self.hs_code[:4]


@dataclass(frozen=True)
class Profile:
    """What an exporter says of itself. `validated` checks and cleans it."""

    legal_name: str
    ice: str
    region: str
    legal_form: str | None = None
    founded_year: int | None = None
    exporting_since: int | None = None
    employees: int | None = None
    annual_turnover_mad: Decimal | None = None
    export_turnover_mad: Decimal | None = None
    exports: tuple[ExportLine, ...] = ()
    audited_accounts: bool | None = None
    collateral_available_mad: Decimal | None = None

    def validated(self, today: date) -> Profile:
        """The profile, cleaned; an `Invalid` (422) naming every broken rule otherwise."""
        broken = Violations(kind="invalid-exporter")
        legal_name = _text(broken, "legal_name", self.legal_name, LEGAL_NAME_MAX)
        legal_form = (
            None
            if self.legal_form is None
            else _text(broken, "legal_form", self.legal_form, LEGAL_FORM_MAX)
        )
        broken.check(is_valid_ice(self.ice), "ice", f"must be {ICE_LENGTH} ASCII digits")
        broken.check(
            is_region(self.region), "region", f"{self.region[:64]!r} is not a known region code"
        )
        year = today.year
        founded_ok = self.founded_year is None or broken.check(
            EARLIEST_YEAR <= self.founded_year <= year,
            "founded_year",
            f"must be between {EARLIEST_YEAR} and {year} (not in the future)",
        )
        since_ok = self.exporting_since is None or broken.check(
            EARLIEST_YEAR <= self.exporting_since <= year,
            "exporting_since",
            f"must be between {EARLIEST_YEAR} and {year} (not in the future)",
        )
        if (
            since_ok
            and founded_ok
            and self.exporting_since is not None
            and self.founded_year is not None
        ):
            broken.check(
                self.exporting_since >= self.founded_year,
                "exporting_since",
                "must not be earlier than founded_year",
            )
        if self.employees is not None:
            broken.check(
                0 <= self.employees <= MAX_EMPLOYEES,
                "employees",
                f"must be between 0 and {MAX_EMPLOYEES}",
            )
        for name in ("annual_turnover_mad", "export_turnover_mad", "collateral_available_mad"):
            value: Decimal | None = getattr(self, name)
            if value is not None:
                broken.check(value >= 0, name, "must not be negative")
        if (
            self.annual_turnover_mad is not None
            and self.export_turnover_mad is not None
            and "export_turnover_mad" not in broken
            and "annual_turnover_mad" not in broken
        ):
            broken.check(
                self.export_turnover_mad <= self.annual_turnover_mad,
                "export_turnover_mad",
                "must not be greater than annual_turnover_mad",
            )
        _check_exports(broken, self.exports)
        broken.raise_if_any()
        cents = Decimal("0.01")
        return replace(
            self,
            legal_name=legal_name,
            legal_form=legal_form,
            annual_turnover_mad=_quantized(self.annual_turnover_mad, cents),
            export_turnover_mad=_quantized(self.export_turnover_mad, cents),
            collateral_available_mad=_quantized(self.collateral_available_mad, cents),
        )


def _quantized(value: Decimal | None, quantum: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(quantum)


def _text(broken: Violations, name: str, value: str, max_length: int) -> str:
    try:
        return clean_text(value, max_length=max_length)
    except ValueError as exc:
        broken.add(name, str(exc))
        return value


def _check_exports(broken: Violations, lines: tuple[ExportLine, ...]) -> None:
    if not broken.check(
        len(lines) <= MAX_EXPORT_LINES, "exports", f"at most {MAX_EXPORT_LINES} lines"
    ):
        return
    seen: set[tuple[str, str]] = set()
    for index, line in enumerate(lines):
        where = f"exports.{index}"
        broken.check(
            is_valid_hs_code(line.hs_code),
            f"{where}.hs_code",
            f"{line.hs_code[:16]!r} is not an HS code (2, 4 or 6 digits of an existing chapter)",
        )
        broken.check(
            is_country(line.destination),
            f"{where}.destination",
            f"{line.destination[:8]!r} is not an ISO 3166-1 alpha-2 country code",
        )
        broken.check(
            Decimal(0) < line.share_pct <= HUNDRED,
            f"{where}.share_pct",
            "must be more than 0 and at most 100",
        )
        key = (line.hs_code, line.destination)
        broken.check(key not in seen, where, "the same HS code and destination twice")
        seen.add(key)
    total = sum((line.share_pct for line in lines), Decimal(0))
    broken.check(total <= HUNDRED, "exports", f"the shares sum to {total}, more than 100")


def _dominant(shares: Iterable[tuple[str, Decimal]], threshold_pct: Decimal) -> bool | None:
    by_key: dict[str, Decimal] = defaultdict(Decimal)
    for key, share in shares:
        by_key[key] += share
    total = sum(by_key.values(), Decimal(0))
    if total <= 0:
        return None
    return max(by_key.values()) * HUNDRED >= threshold_pct * total


@dataclass(frozen=True)
class Derived:
    export_share_pct: float | None
    is_mono_market: bool | None
    is_mono_product: bool | None

    @classmethod
    def of(cls, profile: Profile, rules: DerivationRules) -> Derived:
        share: float | None = None
        turnover, exported = profile.annual_turnover_mad, profile.export_turnover_mad
        if turnover is not None and exported is not None and turnover > 0:
            ratio = (exported * HUNDRED / turnover).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            share = float(ratio)
        lines = profile.exports
        return cls(
            export_share_pct=share,
            is_mono_market=_dominant(
                ((line.destination, line.share_pct) for line in lines),
                rules.mono_market_threshold_pct,
            ),
            is_mono_product=_dominant(
                ((line.heading, line.share_pct) for line in lines),
                rules.mono_product_threshold_pct,
            ),
        )


PROFILE_FIELDS = tuple(f.name for f in fields(Profile))
REQUIRED_FIELDS = frozenset({"legal_name", "ice", "region"})


@dataclass(eq=False)
class Exporter:
    id: UUID
    org: str
    status: str
    legal_name: str
    ice: str
    region: str
    legal_form: str | None
    founded_year: int | None
    exporting_since: int | None
    employees: int | None
    annual_turnover_mad: Decimal | None
    export_turnover_mad: Decimal | None
    exports: tuple[ExportLine, ...]
    audited_accounts: bool | None
    collateral_available_mad: Decimal | None
    export_share_pct: float | None
    is_mono_market: bool | None
    is_mono_product: bool | None
    # Counts this aggregate's events: the `aggregate_version` of its last one.
    version: int
    created_at: datetime
    updated_at: datetime
    # What this exporter exports, as HS chapters: for the advisors' `hs_chapter` filter.
    hs_chapters: tuple[str, ...] = field(default=())

    @classmethod
    def register(
        cls, *, org: str, profile: Profile, rules: DerivationRules, now: datetime
    ) -> tuple[Exporter, events.ExporterRegistered]:
        clean = profile.validated(now.date())
        exporter = cls(
            id=uuid4(),
            org=org,
            status="active",
            version=1,
            created_at=now,
            updated_at=now,
            **_profile_values(clean),
            **_derived_values(clean, rules),
        )
        return exporter, events.ExporterRegistered.model_validate(exporter.snapshot(now.date()))

    @property
    def profile(self) -> Profile:
        return Profile(**{name: getattr(self, name) for name in PROFILE_FIELDS})

    @property
    def active(self) -> bool:
        return self.status == "active"

    def years_exporting(self, today: date) -> int | None:
        if self.exporting_since is None:
            return None
        return max(0, today.year - self.exporting_since)

    def revise(
        self, changes: Mapping[str, object], *, rules: DerivationRules, now: datetime
    ) -> events.ExporterUpdated | None:
        """Apply the fields sent; the event, or None when nothing changed (no new version)."""
        if not self.active:
            raise Conflict("a deactivated profile cannot change", kind="exporter-deactivated")
        broken = Violations(kind="invalid-exporter")
        for name, value in changes.items():
            if name not in PROFILE_FIELDS:
                broken.add(name, "not a field an exporter may change", "extra_forbidden")
            elif value is None and name in REQUIRED_FIELDS:
                broken.add(name, "may not be null")
        broken.raise_if_any()
        revised = replace(self.profile, **changes).validated(now.date())  # type: ignore[arg-type]
        if revised == self.profile:
            return None
        for name, value in {**_profile_values(revised), **_derived_values(revised, rules)}.items():
            setattr(self, name, value)
        self.version += 1
        self.updated_at = now
        return events.ExporterUpdated.model_validate(self.snapshot(now.date()))

    def deactivate(self, now: datetime) -> events.ExporterDeactivated | None:
        """Stop the profile; None if it is already stopped (nothing changes)."""
        if not self.active:
            return None
        self.status = "deactivated"
        self.version += 1
        self.updated_at = now
        return events.ExporterDeactivated.model_validate(self.snapshot(now.date()))

    def snapshot(self, today: date) -> dict[str, object]:
        """The event payload, as `events.ExporterSnapshot` has it."""
        return {
            "id": self.id,
            "org": self.org,
            "status": self.status,
            **{name: getattr(self, name) for name in PROFILE_FIELDS if name != "exports"},
            "exports": [
                {
                    "hs_code": line.hs_code,
                    "destination": line.destination,
                    "share_pct": float(line.share_pct),
                }
                for line in self.exports
            ],
            "export_share_pct": self.export_share_pct,
            "is_mono_market": self.is_mono_market,
            "is_mono_product": self.is_mono_product,
            "years_exporting": self.years_exporting(today),
        }


def _profile_values(profile: Profile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in PROFILE_FIELDS}


def _derived_values(profile: Profile, rules: DerivationRules) -> dict[str, Any]:
    derived = Derived.of(profile, rules)
    return {
        "export_share_pct": derived.export_share_pct,
        "is_mono_market": derived.is_mono_market,
        "is_mono_product": derived.is_mono_product,
        "hs_chapters": tuple(sorted({line.hs_code[:2] for line in profile.exports})),
    }
