"""A product: what a provider offers, with machine-readable eligibility rules, in versions.

A product goes `draft → published → withdrawn`. Its versions:
- a draft is the provider's own, and changes in place;
- publishing makes the draft the published version; the one before becomes `superseded`, and
  stays readable;
- revising a published product makes a draft of the next version, and the published one stays
  in the catalogue until that draft is published;
- withdrawing takes the published version out of the catalogue. A withdrawn product is final.

The aggregate's `version` counts its events (`published`, `withdrawn`): it is the
`aggregate_version` consumers compare, so a withdrawal after a revision is never taken for old.
`product_version` in the event is the number of the version concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID, uuid4

from tasdir.contracts import events
from tasdir.domain import Violations
from tasdir.errors import Conflict
from tasdir.reference import (
    expand_destinations,
    is_currency,
    is_destination,
    is_hs_chapter,
    is_instrument,
    is_region,
    minor_units,
)
from tasdir.text import clean_text

ProductStatus = Literal["draft", "published", "withdrawn"]
VersionStatus = Literal["draft", "published", "superseded", "withdrawn"]
GUARANTEE = "export_credit_guarantee"
INSURANCE = frozenset({"export_credit_insurance", "prospection_insurance"})
PAYMENT_TERMS = ("advance", "lc", "documentary_collection", "open_account")
NAME_MAX, DESCRIPTION_MAX = 200, 4000
TENOR_MAX_DAYS = 3650
DECISION_MAX_DAYS = 365
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Localized:
    """A text in French and in English."""

    fr: str
    en: str


@dataclass(frozen=True)
class Eligibility:
    """Who may have the product. A rule left out (None) is not a rule."""

    regions: tuple[str, ...] | None = None
    hs_chapters_include: tuple[str, ...] | None = None
    hs_chapters_exclude: tuple[str, ...] | None = None
    destinations_include: tuple[str, ...] | None = None
    destinations_exclude: tuple[str, ...] | None = None
    min_turnover_mad: Decimal | None = None
    max_turnover_mad: Decimal | None = None
    min_export_turnover_mad: Decimal | None = None
    min_export_share_pct: Decimal | None = None
    min_years_exporting: int | None = None
    max_employees: int | None = None
    payment_terms_include: tuple[str, ...] | None = None
    requires_audited_accounts: bool = False
    min_collateral_pct: Decimal | None = None
    requires_guarantee: bool = False
    requires_insurance: bool = False


@dataclass(frozen=True)
class Pricing:
    """Indicative, per year for the rate; one-off for the fees and the premium."""

    indicative_rate_pct: Decimal | None = None
    fees_pct: Decimal | None = None
    premium_pct: Decimal | None = None


@dataclass(frozen=True)
class ProductTerms:
    """What one version of a product says."""

    name: Localized
    description: Localized
    instrument: str
    currencies: tuple[str, ...]
    amount_currency: str
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    tenor_min_days: int | None = None
    tenor_max_days: int | None = None
    eligibility: Eligibility = field(default_factory=Eligibility)
    pricing: Pricing = field(default_factory=Pricing)
    cover_pct: Decimal | None = None
    covers_instruments: tuple[str, ...] = ()
    partner_provider_ids: tuple[UUID, ...] = ()
    decision_days: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def validated(self) -> ProductTerms:
        """The terms, cleaned; an `Invalid` (422) naming every broken rule otherwise."""
        broken = Violations(kind="invalid-product")
        name = _localized(broken, "name", self.name, NAME_MAX, multiline=False)
        description = _localized(
            broken, "description", self.description, DESCRIPTION_MAX, multiline=True
        )
        broken.check(
            is_instrument(self.instrument), "instrument", "not an instrument of the taxonomy"
        )
        if broken.check(bool(self.currencies), "currencies", "at least one currency"):
            _codes(broken, "currencies", self.currencies, is_currency, "an ISO 4217 currency")
        if broken.check(
            is_currency(self.amount_currency), "amount_currency", "not an ISO 4217 currency"
        ):
            units = minor_units(self.amount_currency)
            for name_, amount in (("amount_min", self.amount_min), ("amount_max", self.amount_max)):
                if amount is not None and amount.is_finite():
                    broken.check(
                        amount == amount.quantize(Decimal(1).scaleb(-units)),
                        name_,
                        f"{self.amount_currency} has {units} decimals",
                    )
        _range(broken, "amount_min", self.amount_min, "amount_max", self.amount_max)
        for name_, days in (
            ("tenor_min_days", self.tenor_min_days),
            ("tenor_max_days", self.tenor_max_days),
        ):
            if days is not None:
                broken.check(
                    1 <= days <= TENOR_MAX_DAYS, name_, f"between 1 and {TENOR_MAX_DAYS} days"
                )
        _range(broken, "tenor_min_days", self.tenor_min_days, "tenor_max_days", self.tenor_max_days)
        _check_eligibility(broken, self.eligibility)
        for name_ in ("indicative_rate_pct", "fees_pct", "premium_pct"):
            _percent(broken, f"pricing.{name_}", getattr(self.pricing, name_))
        _percent(broken, "cover_pct", self.cover_pct)
        self._check_cover(broken)
        if self.decision_days is not None:
            broken.check(
                0 <= self.decision_days <= DECISION_MAX_DAYS,
                "decision_days",
                f"between 0 and {DECISION_MAX_DAYS}",
            )
        if self.valid_from is not None and self.valid_to is not None:
            broken.check(self.valid_from < self.valid_to, "valid_from", "must be before valid_to")
        broken.raise_if_any()
        return replace(
            self,
            name=name,
            description=description,
            currencies=tuple(dict.fromkeys(self.currencies)),
        )

    def _check_cover(self, broken: Violations) -> None:
        if self.instrument == GUARANTEE:
            broken.check(self.cover_pct is not None, "cover_pct", "a guarantee declares its cover")
            if broken.check(
                bool(self.covers_instruments),
                "covers_instruments",
                "a guarantee names the instruments it covers",
            ):
                _codes(
                    broken,
                    "covers_instruments",
                    self.covers_instruments,
                    lambda code: is_instrument(code) and code != GUARANTEE,
                    "an instrument a guarantee may cover",
                )
            return
        if self.instrument in INSURANCE:
            broken.check(self.cover_pct is not None, "cover_pct", "insurance declares its cover")
        broken.check(
            not self.covers_instruments, "covers_instruments", "only a guarantee covers instruments"
        )
        broken.check(
            not self.partner_provider_ids,
            "partner_provider_ids",
            "only a guarantee names partner providers",
        )

    # ------------------------------------------------------------------ the catalogue's filters

    def covers_destination(self, code: str) -> bool:
        """Whether it may serve some country of `code` (a country, bloc or world region)."""
        wanted = expand_destinations(code)
        rules = self.eligibility
        allowed = (
            wanted
            if rules.destinations_include is None
            else wanted & expand_destinations(rules.destinations_include)
        )
        if rules.destinations_exclude is not None:
            allowed -= expand_destinations(rules.destinations_exclude)
        return bool(allowed)

    def covers_hs_chapter(self, chapter: str) -> bool:
        rules = self.eligibility
        if rules.hs_chapters_exclude is not None and chapter in rules.hs_chapters_exclude:
            return False
        return rules.hs_chapters_include is None or chapter in rules.hs_chapters_include

    def covers_amount(self, amount: Decimal) -> bool:
        """`amount`, in `amount_currency`, within the product's bounds."""
        low, high = self.amount_min, self.amount_max
        return (low is None or amount >= low) and (high is None or amount <= high)


def _localized(
    broken: Violations, name: str, value: Localized, max_length: int, *, multiline: bool
) -> Localized:
    texts = {}
    for lang in ("fr", "en"):
        try:
            texts[lang] = clean_text(
                getattr(value, lang), multiline=multiline, max_length=max_length
            )
        except ValueError as exc:
            broken.add(f"{name}.{lang}", str(exc))
            texts[lang] = getattr(value, lang)
    return Localized(**texts)


def _codes(
    broken: Violations,
    name: str,
    codes: Iterable[object],
    known: object,
    what: str,
) -> None:
    for index, code in enumerate(codes):
        broken.check(bool(known(code)), f"{name}.{index}", f"{str(code)[:32]!r} is not {what}")  # type: ignore[operator]


def _range(
    broken: Violations,
    low_name: str,
    low: Decimal | int | None,
    high_name: str,
    high: Decimal | int | None,
) -> None:
    for name, value in ((low_name, low), (high_name, high)):
        if value is not None:
            broken.check(value >= 0, name, "must not be negative")
    if low is not None and high is not None:
        broken.check(low <= high, low_name, f"must not be above {high_name}")


def _percent(broken: Violations, name: str, value: Decimal | None) -> None:
    if value is not None:
        broken.check(Decimal(0) <= value <= HUNDRED, name, "a percentage from 0 to 100")


def _check_eligibility(broken: Violations, rules: Eligibility) -> None:
    where = "eligibility"
    for name in ("regions", "hs_chapters_include", "destinations_include", "payment_terms_include"):
        # An empty list would shut everyone out; a rule left out (null) is no rule.
        broken.check(
            getattr(rules, name) != (),
            f"{where}.{name}",
            "an empty list admits no one: leave the rule out (null) to admit all",
        )
    if rules.regions is not None:
        _codes(broken, f"{where}.regions", rules.regions, is_region, "a region code")
    for name in ("hs_chapters_include", "hs_chapters_exclude"):
        chapters = getattr(rules, name)
        if chapters is not None:
            _codes(broken, f"{where}.{name}", chapters, is_hs_chapter, "an HS chapter (2 digits)")
    if rules.hs_chapters_include is not None and rules.hs_chapters_exclude is not None:
        both = sorted(set(rules.hs_chapters_include) & set(rules.hs_chapters_exclude))
        broken.check(not both, f"{where}.hs_chapters_exclude", f"also included: {', '.join(both)}")
    for name in ("destinations_include", "destinations_exclude"):
        codes = getattr(rules, name)
        if codes is not None:
            _codes(
                broken,
                f"{where}.{name}",
                codes,
                is_destination,
                "a country, a bloc or a world region",
            )
    if rules.destinations_include is not None and rules.destinations_exclude is not None:
        both = sorted(set(rules.destinations_include) & set(rules.destinations_exclude))
        broken.check(not both, f"{where}.destinations_exclude", f"also included: {', '.join(both)}")
    _range(
        broken,
        f"{where}.min_turnover_mad",
        rules.min_turnover_mad,
        f"{where}.max_turnover_mad",
        rules.max_turnover_mad,
    )
    if rules.min_export_turnover_mad is not None:
        broken.check(
            rules.min_export_turnover_mad >= 0,
            f"{where}.min_export_turnover_mad",
            "must not be negative",
        )
    _percent(broken, f"{where}.min_export_share_pct", rules.min_export_share_pct)
    if rules.min_years_exporting is not None:
        broken.check(
            0 <= rules.min_years_exporting <= 200,
            f"{where}.min_years_exporting",
            "between 0 and 200",
        )
    if rules.max_employees is not None:
        broken.check(rules.max_employees >= 0, f"{where}.max_employees", "must not be negative")
    if rules.payment_terms_include is not None:
        _codes(
            broken,
            f"{where}.payment_terms_include",
            rules.payment_terms_include,
            lambda code: code in PAYMENT_TERMS,
            f"one of {', '.join(PAYMENT_TERMS)}",
        )
    if rules.min_collateral_pct is not None:
        # Collateral may exceed the amount: 120 % is a real requirement.
        broken.check(
            Decimal(0) <= rules.min_collateral_pct <= Decimal(1000),
            f"{where}.min_collateral_pct",
            "a percentage from 0 to 1000",
        )


TERMS_FIELDS = tuple(f.name for f in fields(ProductTerms))


@dataclass
class ProductVersion:
    number: int
    status: str
    terms: ProductTerms
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None


@dataclass(eq=False)
class Product:
    id: UUID
    provider_id: UUID
    status: str
    # Counts this aggregate's events: the `aggregate_version` of its last one.
    version: int
    created_at: datetime
    updated_at: datetime
    versions: list[ProductVersion]

    @classmethod
    def create(cls, *, provider_id: UUID, terms: ProductTerms, now: datetime) -> Product:
        """A new product: version 1, a draft. Drafts are the provider's own: no event."""
        first = ProductVersion(1, "draft", terms.validated(), now, now)
        return cls(uuid4(), provider_id, "draft", 0, now, now, [first])

    @property
    def draft(self) -> ProductVersion | None:
        last = self.versions[-1]
        return last if last.status == "draft" else None

    @property
    def current(self) -> ProductVersion | None:
        """The version in the catalogue: the published one (or the withdrawn one, last)."""
        for candidate in reversed(self.versions):
            if candidate.status in ("published", "withdrawn"):
                return candidate
        return None

    def view(self, *, owner: bool) -> ProductVersion | None:
        """What `GET /v1/products/{id}` shows: the owner its latest version, draft included;
        others the one in the catalogue."""
        return self.versions[-1] if owner else self.current

    def at(self, number: int, *, owner: bool) -> ProductVersion | None:
        for candidate in self.versions:
            if candidate.number == number and (owner or candidate.status != "draft"):
                return candidate
        return None

    def revise(self, changes: Mapping[str, object], *, now: datetime) -> bool:
        """Change the draft, or start the next version's draft from the published one. False
        when nothing changes (no draft is made for nothing)."""
        if self.status == "withdrawn":
            raise Conflict("a withdrawn product does not change", kind="product-withdrawn")
        unknown = Violations(kind="invalid-product")
        for name in changes:
            if name not in TERMS_FIELDS:
                unknown.add(name, "not a field of a product one may change", "extra_forbidden")
        unknown.raise_if_any()
        draft = self.draft
        base = draft if draft is not None else self.versions[-1]
        revised = replace(base.terms, **changes).validated()  # type: ignore[arg-type]
        if revised == base.terms:
            return False
        if draft is not None:
            draft.terms = revised
            draft.updated_at = now
        else:
            self.versions.append(ProductVersion(base.number + 1, "draft", revised, now, now))
        self.updated_at = now
        return True

    def publish(self, *, now: datetime) -> events.ProductPublished:
        draft = self.draft
        if self.status == "withdrawn":
            raise Conflict("a withdrawn product cannot be published", kind="product-withdrawn")
        if draft is None:
            raise Conflict("there is no draft to publish", kind="nothing-to-publish")
        previous = self.current
        if previous is not None and previous.status == "published":
            previous.status = "superseded"
        draft.status = "published"
        draft.published_at = now
        draft.updated_at = now
        self.status = "published"
        self.version += 1
        self.updated_at = now
        return events.ProductPublished.model_validate(self.snapshot(draft))

    def withdraw(self, *, now: datetime) -> events.ProductWithdrawn:
        published = self.current
        if self.status != "published" or published is None:
            raise Conflict("only a published product can be withdrawn", kind="not-published")
        published.status = "withdrawn"
        published.withdrawn_at = now
        published.updated_at = now
        self.status = "withdrawn"
        self.version += 1
        self.updated_at = now
        return events.ProductWithdrawn.model_validate(self.snapshot(published))

    def snapshot(self, version: ProductVersion) -> dict[str, object]:
        """The event payload: the whole version, rules and pricing, so no one calls back."""
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "status": "withdrawn" if version.status == "withdrawn" else "published",
            "product_version": version.number,
            **terms_document(version.terms),
        }


def terms_document(terms: ProductTerms) -> dict[str, object]:
    """The terms as plain data: for the events, and for storage."""
    rules = terms.eligibility
    return {
        "name": {"fr": terms.name.fr, "en": terms.name.en},
        "description": {"fr": terms.description.fr, "en": terms.description.en},
        "instrument": terms.instrument,
        "currencies": list(terms.currencies),
        "amount_min": _text(terms.amount_min),
        "amount_max": _text(terms.amount_max),
        "amount_currency": terms.amount_currency,
        "tenor_min_days": terms.tenor_min_days,
        "tenor_max_days": terms.tenor_max_days,
        "eligibility": {f.name: _plain(getattr(rules, f.name)) for f in fields(Eligibility)},
        "pricing": {f.name: _plain(getattr(terms.pricing, f.name)) for f in fields(Pricing)},
        "cover_pct": _plain(terms.cover_pct),
        "covers_instruments": list(terms.covers_instruments),
        "partner_provider_ids": [str(p) for p in terms.partner_provider_ids],
        "decision_days": terms.decision_days,
        "valid_from": terms.valid_from.isoformat() if terms.valid_from else None,
        "valid_to": terms.valid_to.isoformat() if terms.valid_to else None,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _plain(value: object) -> object:
    """Money stays an exact string; percentages are JSON numbers; tuples become lists."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Decimal):
        return str(value)
    return value
