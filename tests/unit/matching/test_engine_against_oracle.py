"""The columnar engine against the per-row oracle: over generated profiles, requests and
catalogues they agree on every product's tier, reason masks, bundle, all-in cost, components
and score; and no eligible match breaks a hard rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from matching.domain import oracle
from matching.domain.engine import ProductIndex, RequestIndex
from matching.domain.facts import Product, Profile, Request, is_strategic, strategic_countries
from matching.domain.outcome import Outcome, ranked
from matching.domain.rules import BUNDLE_RULES, ELIGIBLE, ScoringConfig
from support.catalogue import (
    TODAY,
    catalogues,
    exporter_snapshots,
    profile_of,
    request_of,
    request_snapshots,
)

CONFIG = ScoringConfig()
PRIORITY = strategic_countries(CONFIG.priority_blocs)


def both(
    products: list[Product], request: Request, profile: Profile, today: date = TODAY
) -> tuple[list[Outcome], list[Outcome]]:
    strategic = is_strategic(request, profile, PRIORITY)
    expected = oracle.evaluate(products, request, profile, today, CONFIG, strategic)
    index = ProductIndex(capacity=1)
    for product in products:
        index.upsert(product)
    actual = index.evaluate(request, profile, today, CONFIG, strategic).outcomes()
    return expected, actual


def by_id(outcomes: list[Outcome]) -> dict[UUID, Outcome]:
    return {o.product_id: o for o in outcomes}


@settings(max_examples=300)
@given(catalogues(lenient=True), request_snapshots(), exporter_snapshots())
def test_the_engine_and_the_oracle_agree_on_every_product(products, request, exporter) -> None:  # type: ignore[no-untyped-def]
    expected, actual = both(products, request_of(request), profile_of(exporter))
    assert by_id(actual) == by_id(expected)


@settings(max_examples=100)
@given(catalogues(), request_snapshots(), exporter_snapshots())
def test_they_rank_the_matches_and_the_misses_alike(products, request, exporter) -> None:  # type: ignore[no-untyped-def]
    req, profile = request_of(request), profile_of(exporter)
    expected_matches, expected_misses = ranked(both(products, req, profile)[0])
    index = ProductIndex()
    for product in products:
        index.upsert(product)
    strategic = is_strategic(req, profile, PRIORITY)
    evaluation = index.evaluate(req, profile, TODAY, CONFIG, strategic)
    assert evaluation.matches() == expected_matches
    # The first few alone (the page a caller shows) are the same, however the scores tie.
    for limit in (0, 1, 3):
        assert evaluation.matches(limit) == expected_matches[:limit]
    assert evaluation.nearest_misses(5) == expected_misses[:5]
    assert evaluation.nearest_misses(5, offset=5) == expected_misses[5:10]
    assert evaluation.excluded_total == len(expected_misses)
    # Keyset pages of 3, each after the last one's `miss_key`, walk every miss once, in order.
    paged: list[Outcome] = []
    after = None
    while page := evaluation.misses_after(after, 3):
        paged += page
        after = page[-1].miss_key()[0], page[-1].product_id
    assert paged == expected_misses


@settings(max_examples=100)
@given(catalogues(), request_snapshots(), exporter_snapshots(), st.data())
def test_an_index_updated_in_place_answers_like_a_fresh_one(  # type: ignore[no-untyped-def]
    products, request, exporter, data
) -> None:
    """Products replaced and withdrawn in any order leave the same answers as a rebuild."""
    if not products:
        return
    index = ProductIndex(capacity=1)
    for product in products:
        index.upsert(product)
    withdrawn = data.draw(st.sets(st.sampled_from([p.id for p in products])))
    for product_id in withdrawn:
        index.remove(product_id)
    for product in reversed(products):  # re-publishing keeps the row
        if product.id not in withdrawn:
            index.upsert(product)
    kept = [p for p in products if p.id not in withdrawn]
    req, profile = request_of(request), profile_of(exporter)
    strategic = is_strategic(req, profile, PRIORITY)
    expected = oracle.evaluate(kept, req, profile, TODAY, CONFIG, strategic)
    assert by_id(index.evaluate(req, profile, TODAY, CONFIG, strategic).outcomes()) == by_id(
        expected
    )


def at_least(value: float | None, limit: float | None) -> bool:
    """A minimum holds when there is none, or when the answer is known and reaches it."""
    return limit is None or (value is not None and value >= limit)


def passes_every_rule(product: Product, request: Request, profile: Profile) -> bool:
    """The hard rules, written out once more without masks, for the eligible tier."""
    amount = request.amount_cents
    checks = [
        request.currency in product.currencies,
        product.amount_min is None or (amount is not None and amount >= product.amount_min_cents),  # type: ignore[operator]
        product.amount_max is None or (amount is not None and amount <= product.amount_max_cents),  # type: ignore[operator]
        product.tenor_min_days is None or request.tenor_days >= product.tenor_min_days,
        product.tenor_max_days is None or request.tenor_days <= product.tenor_max_days,
        product.hs_include is None or request.hs_chapters <= product.hs_include,
        product.hs_exclude is None or not (request.hs_chapters & product.hs_exclude),
        product.countries_include is None or request.destination in product.countries_include,
        product.countries_exclude is None or request.destination not in product.countries_exclude,
        product.regions is None or profile.region in product.regions,
        at_least(profile.turnover_cents, product.min_turnover_cents),
        product.max_turnover_cents is None
        or (
            profile.turnover_cents is not None
            and profile.turnover_cents <= product.max_turnover_cents
        ),
        at_least(profile.export_turnover_cents, product.min_export_turnover_cents),
        at_least(profile.export_share_pct, product.min_export_share_pct),
        at_least(profile.years_exporting, product.min_years_exporting),
        product.max_employees is None
        or (profile.employees is not None and profile.employees <= product.max_employees),
        product.payment_terms is None or request.payment_terms in product.payment_terms,
        not product.requires_audited_accounts or profile.audited_accounts is True,
        product.min_collateral_pct is None
        or (
            profile.collateral_cents is not None
            and amount is not None
            and Decimal(profile.collateral_cents) * 100
            >= Decimal(str(product.min_collateral_pct)) * amount
        ),
        not product.requires_guarantee,
        not product.requires_insurance,
        product.valid_from is None or product.valid_from <= TODAY,
        product.valid_to is None or product.valid_to >= TODAY,
        product.instrument in request.instruments,
    ]
    return all(checks)


@settings(max_examples=200)
@given(catalogues(), request_snapshots(), exporter_snapshots())
def test_no_eligible_match_breaks_a_hard_rule(products, request, exporter) -> None:  # type: ignore[no-untyped-def]
    req, profile = request_of(request), profile_of(exporter)
    facts = {p.id: p for p in products}
    for outcome in both(products, req, profile)[1]:
        product = facts[outcome.product_id]
        if outcome.tier == ELIGIBLE:
            assert passes_every_rule(product, req, profile), outcome
        elif outcome.matched:
            # A conditional match fails nothing outright: only answers and bundles are owed.
            assert outcome.failed == 0
            assert outcome.missing or outcome.bundled & BUNDLE_RULES
            if outcome.bundled:
                assert outcome.bundle


@settings(max_examples=100)
@given(catalogues(), st.lists(st.tuples(request_snapshots(), exporter_snapshots()), max_size=6))
def test_screening_a_product_finds_every_request_it_fits(products, pairs) -> None:  # type: ignore[no-untyped-def]
    """One product against the open requests: `fits` holds exactly the requests where the full
    evaluation lists the product or leaves it only a bundle short."""
    requests = RequestIndex(capacity=1)
    evaluated = []
    for i, (request, exporter) in enumerate(pairs):
        snapshot = request.model_copy(update={"id": UUID(int=5000 + i)})
        req, profile = request_of(snapshot), profile_of(exporter)
        requests.upsert(req, profile)
        evaluated.append((req, profile))
    for product in products:
        screening = requests.screen(product, TODAY)
        for req, profile in evaluated:
            strategic = is_strategic(req, profile, PRIORITY)
            outcome = by_id(oracle.evaluate([product], req, profile, TODAY, CONFIG, strategic)).get(
                product.id
            )
            fits = outcome is not None and outcome.failed & ~BUNDLE_RULES == 0
            assert (req.id in screening.fits) == fits
            clean = oracle.is_clean(product, req, profile, TODAY)
            assert (req.id in screening.clean) == clean


def affected(
    index: ProductIndex,
    requests: RequestIndex,
    held: dict[UUID, set[UUID]],
    before: Product | None,
    after: Product | None,
) -> set[UUID]:
    """What `affected_by_product` answers, with `held` standing in for the match entries."""
    changed = (after or before).id  # type: ignore[union-attr]
    out = {r for r, products in held.items() if changed in products}
    if after is not None:
        scope = index.bundled_into(after) if after.is_bundle_product else None
        screening = requests.screen(after, TODAY, scope)
        out.update(screening.fits)
        if scope is not None:
            out.update(screening.clean)
    if before is not None and before.is_bundle_product:
        out.update(requests.screen(before, TODAY, index.bundled_into(before)).clean)
    return out


@settings(max_examples=100)
@given(
    catalogues(lenient=True),
    st.lists(st.tuples(request_snapshots(), exporter_snapshots()), min_size=1, max_size=5),
    st.data(),
)
def test_a_product_change_leaves_every_request_it_does_not_name_as_it_was(  # type: ignore[no-untyped-def]
    products, pairs, data
) -> None:
    """Re-matching only the requests a change is said to affect is enough: every other request
    evaluates exactly as before (matches, tiers, bundles, scores)."""
    if not products:
        return
    bundles = [p for p in products if p.is_bundle_product]
    # A guarantee or an insurance product half the time: the subtle cases are theirs.
    pool = bundles if bundles and data.draw(st.booleans()) else products
    changed = data.draw(st.sampled_from(pool))
    kept = [p for p in products if p.id != changed.id]
    published = data.draw(st.booleans())  # published (it was absent) or withdrawn
    before_catalogue = kept if published else products
    after_catalogue = products if published else kept
    requests = RequestIndex(capacity=1)
    evaluated = []
    for i, (request, exporter) in enumerate(pairs):
        snapshot = request.model_copy(update={"id": UUID(int=5000 + i)})
        req, profile = request_of(snapshot), profile_of(exporter)
        requests.upsert(req, profile)
        evaluated.append((req, profile))

    def matches(catalogue: list[Product]) -> tuple[ProductIndex, dict[UUID, list[Outcome]]]:
        index = ProductIndex(capacity=1)
        for product in catalogue:
            index.upsert(product)
        out = {}
        for req, profile in evaluated:
            strategic = is_strategic(req, profile, PRIORITY)
            out[req.id] = index.evaluate(req, profile, TODAY, CONFIG, strategic).matches()
        return index, out

    _, old = matches(before_catalogue)
    index, new = matches(after_catalogue)
    held = {r: {o.product_id for o in outcomes} for r, outcomes in old.items()}
    said = affected(
        index,
        requests,
        held,
        None if published else changed,
        changed if published else None,
    )
    for request_id in old:
        if request_id not in said:
            assert new[request_id] == old[request_id], request_id
