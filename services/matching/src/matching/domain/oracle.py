"""The reference oracle: the matching rules written plainly, one product at a time.

It is slow and obvious on purpose. The vectorised engine (`matching.domain.engine`) must give
the same outcome for every product; the property tests compare the two over generated
profiles, requests and catalogues.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

from matching.domain.facts import GUARANTEE, INSURANCE, Product, Profile, Request
from matching.domain.outcome import Outcome
from matching.domain.rules import (
    BUNDLE_RULES,
    COLLATERAL_SCALE,
    CONDITIONAL,
    ELIGIBLE,
    EXCLUDED,
    UNIT,
    Rule,
    ScoringConfig,
    all_in_cost_cp,
    ceiling_component,
    score_cp,
)


def check(product: Product, request: Request, profile: Profile, today: date) -> dict[Rule, str]:
    """Every rule the product sets, with its verdict: `passed`, `failed` or `missing`.
    The bundle rules are `failed` here; `evaluate` looks for the bundle."""
    verdicts: dict[Rule, str] = {}

    def rule(code: Rule, passed: bool) -> None:
        verdicts[code] = "passed" if passed else "failed"

    def profile_rule(code: Rule, answer: object, passed: bool) -> None:
        verdicts[code] = "missing" if answer is None else ("passed" if passed else "failed")

    amount = request.amount_cents
    rule(Rule.currency, request.currency in product.currencies)
    if product.amount_min is not None:
        low = product.amount_min_cents
        rule(Rule.amount_min, amount is not None and low is not None and amount >= low)
    if product.amount_max is not None:
        high = product.amount_max_cents
        rule(Rule.amount_max, amount is not None and high is not None and amount <= high)
    if product.tenor_min_days is not None:
        rule(Rule.tenor_min, request.tenor_days >= product.tenor_min_days)
    if product.tenor_max_days is not None:
        rule(Rule.tenor_max, request.tenor_days <= product.tenor_max_days)
    if product.hs_include is not None:
        included = product.hs_include
        rule(Rule.hs_chapters_include, all(ch in included for ch in request.hs_chapters))
    if product.hs_exclude is not None:
        excluded = product.hs_exclude
        rule(Rule.hs_chapters_exclude, not any(ch in excluded for ch in request.hs_chapters))
    if product.countries_include is not None:
        rule(Rule.destinations_include, request.destination in product.countries_include)
    if product.countries_exclude is not None:
        rule(Rule.destinations_exclude, request.destination not in product.countries_exclude)
    if product.regions is not None:
        rule(Rule.region, profile.region in product.regions)
    turnover = profile.turnover_cents
    if product.min_turnover_cents is not None:
        profile_rule(
            Rule.min_turnover,
            turnover,
            turnover is not None and turnover >= product.min_turnover_cents,
        )
    if product.max_turnover_cents is not None:
        profile_rule(
            Rule.max_turnover,
            turnover,
            turnover is not None and turnover <= product.max_turnover_cents,
        )
    if product.min_export_turnover_cents is not None:
        exported = profile.export_turnover_cents
        profile_rule(
            Rule.min_export_turnover,
            exported,
            exported is not None and exported >= product.min_export_turnover_cents,
        )
    if product.min_export_share_pct is not None:
        share = profile.export_share_pct
        profile_rule(
            Rule.min_export_share,
            share,
            share is not None and share >= product.min_export_share_pct,
        )
    if product.min_years_exporting is not None:
        years = profile.years_exporting
        profile_rule(
            Rule.min_years_exporting,
            years,
            years is not None and years >= product.min_years_exporting,
        )
    if product.max_employees is not None:
        staff = profile.employees
        profile_rule(
            Rule.max_employees, staff, staff is not None and staff <= product.max_employees
        )
    if product.payment_terms is not None:
        rule(Rule.payment_terms, request.payment_terms in product.payment_terms)
    if product.requires_audited_accounts:
        audited = profile.audited_accounts
        profile_rule(Rule.audited_accounts, audited, audited is True)
    if product.min_collateral_pct is not None:
        collateral = profile.collateral_cents
        held = (
            collateral is not None
            and amount is not None
            and product.min_collateral_u is not None
            and collateral * COLLATERAL_SCALE >= product.min_collateral_u * amount
        )
        profile_rule(Rule.min_collateral, collateral, held)
    if product.requires_guarantee:
        rule(Rule.guarantee, False)
    if product.requires_insurance:
        rule(Rule.insurance, False)
    if product.valid_from is not None:
        rule(Rule.valid_from, today >= product.valid_from)
    if product.valid_to is not None:
        rule(Rule.valid_to, today <= product.valid_to)
    return verdicts


def masks(verdicts: dict[Rule, str]) -> tuple[int, int, int]:
    """(present, failed, missing) of a verdict table."""
    present = failed = missing = 0
    for code, verdict in verdicts.items():
        present |= code.bit
        if verdict == "failed":
            failed |= code.bit
        elif verdict == "missing":
            missing |= code.bit
    return present, failed, missing


def is_clean(product: Product, request: Request, profile: Profile, today: date) -> bool:
    """Whether every rule of the product passes as it stands (no answer missing, no bundle):
    what a guarantee or an insurance product must meet to be bundled."""
    _, failed, missing = masks(check(product, request, profile, today))
    return failed == 0 and missing == 0


def _best(candidates: Iterable[Product]) -> Product | None:
    return min(candidates, key=Product.preference, default=None)


def evaluate(
    products: Iterable[Product],
    request: Request,
    profile: Profile,
    today: date,
    config: ScoringConfig,
    strategic: bool,
) -> list[Outcome]:
    """The outcome of every product in the request's scope, in catalogue order."""
    catalogue = list(products)
    guarantees = [
        p for p in catalogue if p.instrument == GUARANTEE and is_clean(p, request, profile, today)
    ]
    insurance = _best(
        p for p in catalogue if p.instrument == INSURANCE and is_clean(p, request, profile, today)
    )
    outcomes = []
    for product in catalogue:
        if product.instrument not in request.instruments:
            continue
        present, failed, missing = masks(check(product, request, profile, today))
        bundled = 0
        guarantee = insured = None
        if product.requires_guarantee:
            guarantee = _best(
                g
                for g in guarantees
                if product.instrument in g.covers_instruments
                and (not g.partner_provider_ids or product.provider_id in g.partner_provider_ids)
            )
            if guarantee is not None:
                failed &= ~Rule.guarantee.bit
                bundled |= Rule.guarantee.bit
        if product.requires_insurance and insurance is not None:
            insured = insurance
            failed &= ~Rule.insurance.bit
            bundled |= Rule.insurance.bit
        if failed:
            tier = EXCLUDED
        elif missing or bundled:
            tier = CONDITIONAL
        else:
            tier = ELIGIBLE
        assert bundled & ~BUNDLE_RULES == 0
        guarantee_id = guarantee.id if guarantee is not None else None
        insurance_id = insured.id if insured is not None else None
        if tier == EXCLUDED:
            outcomes.append(
                Outcome(
                    product.id, tier, present, failed, missing, bundled, guarantee_id, insurance_id
                )
            )
            continue
        bundle = [b for b in (guarantee, insured) if b is not None]
        cost = _cost(product, bundle, request)
        components = _components(product, bundle, request, cost, config, strategic)
        weighted = sum(w * c for w, c in zip(config.weights, components, strict=True))
        penalty = config.conditional_penalty_pct if tier == CONDITIONAL else 0
        outcomes.append(
            Outcome(
                product.id,
                tier,
                present,
                failed,
                missing,
                bundled,
                guarantee=guarantee_id,
                insurance=insurance_id,
                cost_cp=cost,
                score_cp=score_cp(weighted, penalty),
                components=components,
            )
        )
    return outcomes


def _cost(product: Product, bundle: list[Product], request: Request) -> int | None:
    if not product.priced and not any(b.priced for b in bundle):
        return None
    one_off = product.one_off_u + sum(b.one_off_u for b in bundle)
    return all_in_cost_cp(product.rate_u or 0, one_off, request.tenor_days)


def _components(
    product: Product,
    bundle: list[Product],
    request: Request,
    cost: int | None,
    config: ScoringConfig,
    strategic: bool,
) -> tuple[int, int, int, int, int]:
    cost_part = 0 if cost is None else ceiling_component(cost, config.cost_ceiling_cp)
    amount, high = request.amount_cents, product.amount_max_cents
    if high is None or amount is None or high <= 0:
        fit = config.amount_fit_unbounded
    else:
        fit = min(UNIT, math.floor(float(amount) / float(high) * 10000.0 + 0.5))
    days = product.decision_days
    speed = 0 if days is None else ceiling_component(days, config.speed_ceiling_days)
    cover = max(
        [c for c in (product.cover_u, *(b.cover_u for b in bundle)) if c is not None] or [0]
    )
    return (cost_part, fit, speed, min(cover, UNIT), UNIT if strategic else 0)
