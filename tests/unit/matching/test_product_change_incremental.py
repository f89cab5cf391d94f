"""A product change merged into the match sets it touches, one product against many requests
at once (`RequestIndex.outcomes_of`, `outcome.merged`), against a full re-evaluation of every
request: the same matches, ranked alike, the same nearest misses and excluded total, or an
honest "evaluate this one in full" when the misses held do not settle it."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from matching.domain.engine import ProductIndex, RequestIndex
from matching.domain.facts import Product, Profile, Request, is_strategic, strategic_countries
from matching.domain.outcome import Kept, merged
from matching.domain.rules import ScoringConfig
from support.catalogue import (
    FX,
    TODAY,
    catalogues,
    exporter_snapshots,
    lenient_product_snapshots,
    product_snapshots,
    profile_of,
    request_of,
    request_snapshots,
)

CONFIG = ScoringConfig()
PRIORITY = strategic_countries(CONFIG.priority_blocs)


def index_of(catalogue: list[Product]) -> ProductIndex:
    index = ProductIndex(capacity=1)
    for product in catalogue:
        index.upsert(product)
    return index


def kept(index: ProductIndex, request: Request, profile: Profile, limit: int) -> Kept:
    strategic = is_strategic(request, profile, PRIORITY)
    evaluation = index.evaluate(request, profile, TODAY, CONFIG, strategic)
    return Kept(
        tuple(evaluation.matches()),
        tuple(evaluation.nearest_misses(limit)),
        evaluation.excluded_total,
    )


@settings(max_examples=60)
@given(
    catalogues(lenient=True),
    st.lists(st.tuples(request_snapshots(), exporter_snapshots()), min_size=1, max_size=6),
    st.data(),
)
def test_a_product_change_merged_gives_what_a_full_re_evaluation_gives(  # type: ignore[no-untyped-def]
    products, pairs, data
) -> None:
    limit = data.draw(st.integers(0, 4))
    # Published (new), withdrawn, or a new version of a financing product: the change the
    # merge is for (a guarantee or an insurance product re-matches in full).
    # (Half the time a product of no rules but its bundles: one that often matches.)
    drawn = lenient_product_snapshots if data.draw(st.booleans()) else product_snapshots
    fresh = Product.of(data.draw(drawn(900)), FX)
    change = data.draw(st.sampled_from(["published", "withdrawn", "revised"]))
    pick = data.draw(st.integers(0, 100))
    financing = [p for p in products if not p.is_bundle_product]
    before: Product | None = None
    after: Product | None = fresh
    if change != "published" and financing:
        before = financing[pick % len(financing)]
        after = replace(fresh, id=before.id) if change == "revised" else None
    if (after is not None and after.is_bundle_product) or (before is None and after is None):
        return
    changed = (after or before).id  # type: ignore[union-attr]
    others = [p for p in products if p.id != changed]
    old_catalogue = others + ([before] if before else [])
    new_catalogue = others + ([after] if after else [])
    requests = RequestIndex(capacity=1)
    pairs_of = []
    for i, (request, exporter) in enumerate(pairs):
        snapshot = request.model_copy(update={"id": UUID(int=5000 + i)})
        req, profile = request_of(snapshot), profile_of(exporter)
        requests.upsert(req, profile)
        pairs_of.append((req, profile))
    ids = [req.id for req, _ in pairs_of]
    old_index, new_index = index_of(old_catalogue), index_of(new_catalogue)

    def outcomes(product: Product | None) -> dict[UUID, object]:
        if product is None:
            return dict.fromkeys(ids)
        rows = requests.rows_of(ids)
        found = requests.outcomes_of(product, rows, new_index, TODAY, CONFIG, PRIORITY)
        return dict(found.outcomes())

    old, new = outcomes(before), outcomes(after)
    for req, profile in pairs_of:
        expected = kept(new_index, req, profile, limit)
        # One product against every request gives what the full evaluation gives it.
        full = {
            o.product_id: o for o in [*expected.matches, *kept(new_index, req, profile, 99).misses]
        }
        assert new[req.id] == full.get(changed)
        result = merged(
            kept(old_index, req, profile, limit), changed, old[req.id], new[req.id], limit
        )  # type: ignore[arg-type]
        if result is not None:
            assert result == expected
    # With every miss held, the merge always settles.
    for req, profile in pairs_of:
        result = merged(kept(old_index, req, profile, 99), changed, old[req.id], new[req.id], 99)  # type: ignore[arg-type]
        assert result == kept(new_index, req, profile, 99)
