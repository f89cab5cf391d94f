"""Match sets: the engine kept in step with the projections, and the sets it writes.

A `Matcher` holds the engine's two indexes (the catalogue and the open requests) for one
database, as of a `catalogue_seq`. Before it evaluates, `sync` reloads the rows that changed
since; if the database's sequence is *behind* its own (a transaction it read from rolled back),
it rebuilds from scratch. The event consumer is the single writer of the projections, so the
matcher in the consumer process is the one that writes match sets; API replicas keep their own
for the reads that evaluate (`/excluded` pages).

`compute` evaluates one request in full and writes its match set:
- the first time: version 1, `match_set.proposed`;
- later, before review: a new version and `match_set.updated` only on a material change (the
  ranked list of products and their tiers, or an amended request); other changes (a new score,
  a nearer miss) update the set in place;
- once approved the set is frozen: new fits are appended as `new_since_review` entries, with a
  new version and `match_set.updated`;
- a rejected set, a closed or withdrawn request, or an exporter that is no longer active is
  left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from tasdir.contracts import events
from tasdir.contracts.base import utcnow
from tasdir.json_types import JsonObject, JsonValue
from tasdir.reference import FxTable, fx_table
from tasdir.settings import get_settings

from matching.adapters.orm import MatchSet, ProductProjection, RequestProjection
from matching.config import MatchingSettings, get_matching_settings
from matching.domain import explain
from matching.domain.engine import Evaluation, ProductIndex, RequestIndex
from matching.domain.facts import Product, Profile, Request, is_strategic, strategic_countries
from matching.domain.outcome import Outcome
from matching.domain.rules import ScoringConfig, bits
from matching.service_layer.uow import MatchingUnitOfWork

#: Request statuses after which a request is never matched again.
FINAL_REQUEST_STATUSES = frozenset({"withdrawn", "closed", "rejected", "declined"})


def is_open(request: RequestProjection) -> bool:
    return request.status not in FINAL_REQUEST_STATUSES


@dataclass
class Matcher:
    """The engine of one database, as of `seq`."""

    config: ScoringConfig
    nearest_misses: int
    fx: FxTable
    products: ProductIndex = field(default_factory=ProductIndex)
    requests: RequestIndex = field(default_factory=RequestIndex)
    profiles: dict[UUID, Profile] = field(default_factory=dict)
    snapshots: dict[UUID, events.FinancingRequestSnapshot] = field(default_factory=dict)
    # The open requests as facts, built once per version (not at each evaluation).
    facts: dict[UUID, Request] = field(default_factory=dict)
    provider_active: dict[UUID, bool] = field(default_factory=dict)
    seq: int = -1
    # Held by the API around `sync` and its reads: concurrent requests share one matcher.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def from_settings(cls, settings: MatchingSettings, fx: FxTable) -> Matcher:
        return cls(config=settings.scoring(), nearest_misses=settings.nearest_misses, fx=fx)

    def __post_init__(self) -> None:
        self.priority = strategic_countries(self.config.priority_blocs)

    # -- keeping in step

    def reset(self) -> None:
        self.products = ProductIndex()
        self.requests = RequestIndex()
        self.profiles.clear()
        self.snapshots.clear()
        self.facts.clear()
        self.provider_active.clear()
        self.seq = -1

    async def sync(self, uow: MatchingUnitOfWork) -> None:
        """Bring the indexes to the database's `catalogue_seq` (as this transaction sees it)."""
        current = await uow.catalogue.current()
        if current < self.seq:
            self.reset()
        if current == self.seq:
            return
        since = self.seq
        providers = await uow.providers.changed_since(since)
        for provider in providers:
            self.provider_active[provider.id] = provider.status == "active"
        products = list(await uow.products.changed_since(since))
        if providers and since >= 0:
            seen = {p.id for p in products}
            more = await uow.products.of_providers([p.id for p in providers])
            products += [p for p in more if p.id not in seen]
        for product in products:
            self._load_product(product)
        exporters = await uow.exporters.changed_since(since)
        for exporter in exporters:
            self.profiles[exporter.id] = Profile.of(
                events.ExporterSnapshot.model_validate_json(exporter.snapshot)
            )
        requests = {r.id: r for r in await uow.requests.changed_since(since)}
        if since >= 0 and exporters:
            # A changed profile re-loads its requests: one query for every changed exporter.
            for held in await uow.requests.of_exporters([e.id for e in exporters]):
                requests.setdefault(held.id, held)
        for request in requests.values():
            self._load_request(request)
        self.seq = current

    def _load_product(self, row: ProductProjection) -> None:
        if row.status != "published" or not self.provider_active.get(row.provider_id, True):
            self.products.remove(row.id)
            return
        snapshot = events.ProductSnapshot.model_validate_json(row.snapshot)
        self.products.upsert(Product.of(snapshot, self.fx))

    def _load_request(self, row: RequestProjection) -> None:
        profile = self.profiles.get(row.exporter_id)
        if not is_open(row) or profile is None or not profile.active:
            self.requests.remove(row.id)
            self.snapshots.pop(row.id, None)
            self.facts.pop(row.id, None)
            return
        snapshot = events.FinancingRequestSnapshot.model_validate_json(row.snapshot)
        self.snapshots[row.id] = snapshot
        request = self.facts[row.id] = Request.of(snapshot, self.fx)
        self.requests.upsert(request, profile)

    # -- evaluating

    def evaluate(self, request_id: UUID, today: date) -> tuple[Request, Profile, Evaluation] | None:
        """The open request against the catalogue, or None if it is not open."""
        snapshot = self.snapshots.get(request_id)
        if snapshot is None:
            return None
        profile = self.profiles[snapshot.exporter_id]
        request = self.facts[request_id]
        strategic = is_strategic(request, profile, self.priority)
        return (
            request,
            profile,
            self.products.evaluate(request, profile, today, self.config, strategic),
        )

    def match_entry(self, outcome: Outcome, request: Request, profile: Profile) -> JsonObject:
        product = self.products.product(outcome.product_id)
        assert product is not None
        bundle = [self._bundle_entry(outcome.guarantee, "guarantee")] if outcome.guarantee else []
        if outcome.insurance:
            bundle.append(self._bundle_entry(outcome.insurance, "insurance"))
        names: dict[str, JsonObject] = {str(b["role"]): b for b in bundle}
        return {
            **_product_fields(product),
            "tier": outcome.tier_name,
            "score": outcome.score(),
            "score_components": dict(outcome.score_components()),
            "all_in_cost_pct": outcome.all_in_cost_pct(),
            "missing": list[JsonValue](explain.missing_answers(outcome, profile)),
            "bundle": list[JsonValue](bundle),
            "reasons": list[JsonValue](explain.reasons(outcome, product, request, profile, names)),
            "new_since_review": False,
        }

    def _bundle_entry(self, product_id: UUID, role: str) -> JsonObject:
        product = self.products.product(product_id)
        assert product is not None
        return {
            **_product_fields(product),
            "role": role,
            "cover_pct": None if product.cover_u is None else product.cover_u / 100,
        }

    def miss_entry(self, outcome: Outcome, request: Request, profile: Profile) -> JsonObject:
        product = self.products.product(outcome.product_id)
        assert product is not None
        return {
            **_product_fields(product),
            "failed": [rule.name for rule in bits(outcome.failed)],
            "missing": list[JsonValue](explain.missing_answers(outcome, profile)),
            "reasons": list[JsonValue](
                explain.reasons(outcome, product, request, profile, only_misses=True)
            ),
        }


def _product_fields(product: Product) -> JsonObject:
    return {
        "product_id": str(product.id),
        "product_version": product.product_version,
        "provider_id": str(product.provider_id),
        "instrument": product.instrument,
        "name": {"en": product.name_en, "fr": product.name_fr},
    }


_MATCHERS: dict[tuple[str, bool], Matcher] = {}


def matcher_for(uow: MatchingUnitOfWork, *, reader: bool = False) -> Matcher:
    """The matcher of the database this unit of work talks to: one per process and database for
    the consumer, which writes, and one for the API's reads, which never sees what a consumer's
    open transaction holds (the embedded mode runs both in one process)."""
    bind = uow.session.get_bind()
    key = (str(bind.engine.url), reader)
    matcher = _MATCHERS.get(key)
    if matcher is None:
        fx = fx_table(get_settings().fx_table)
        matcher = _MATCHERS[key] = Matcher.from_settings(get_matching_settings(), fx)
    return matcher


def forget_matchers() -> None:
    """Drop every cached matcher (tests, and after a failed transaction)."""
    _MATCHERS.clear()


# ---- writing match sets ----


def _order(entries: Sequence[JsonObject]) -> list[tuple[JsonValue, JsonValue]]:
    return [(e.get("product_id"), e.get("tier")) for e in entries]


class _Kept:
    """The entries of a stored set that can be kept as they are when the set is computed again
    after a financing product changed: the request, the exporter's profile and every other
    product's outcome are as they were (a request or profile change re-matches with every
    entry rebuilt). An entry is kept only if it was built on the same product version, with
    the same tier, score, cost and bundle versions, or the same failed rules; the others are
    rebuilt."""

    def __init__(self, matcher: Matcher, match_set: MatchSet | None, request_version: int):
        self.matcher = matcher
        self.matches: dict[JsonValue, JsonObject] = {}
        self.misses: dict[JsonValue, JsonObject] = {}
        if (
            match_set is not None
            and match_set.request_version == request_version
            and match_set.fx_as_of == matcher.fx.as_of
        ):
            self.matches = {e.get("product_id"): e for e in match_set.matches}
            self.misses = {e.get("product_id"): e for e in match_set.excluded}

    def _version(self, product_id: UUID | None) -> tuple[str, int] | None:
        product = None if product_id is None else self.matcher.products.product(product_id)
        return None if product is None else (str(product.id), product.product_version)

    def match(self, outcome: Outcome) -> JsonObject | None:
        entry = self.matches.get(str(outcome.product_id))
        bundle = entry.get("bundle") if entry is not None else None
        if entry is None or not isinstance(bundle, list):
            return None
        held = [
            (b.get("product_id"), b.get("product_version")) for b in bundle if isinstance(b, dict)
        ]
        same = (
            (entry.get("product_id"), entry.get("product_version"))
            == self._version(outcome.product_id)
            and entry.get("tier") == outcome.tier_name
            and entry.get("score") == outcome.score()
            and entry.get("all_in_cost_pct") == outcome.all_in_cost_pct()
            and entry.get("score_components") == dict(outcome.score_components())
            and entry.get("new_since_review") is False
            and held == [self._version(b) for b in outcome.bundle]
        )
        return entry if same else None

    def miss(self, outcome: Outcome) -> JsonObject | None:
        entry = self.misses.get(str(outcome.product_id))
        same = (
            entry is not None
            and (entry.get("product_id"), entry.get("product_version"))
            == self._version(outcome.product_id)
            and entry.get("failed") == [rule.name for rule in bits(outcome.failed)]
        )
        return entry if same else None


async def compute(
    uow: MatchingUnitOfWork, matcher: Matcher, request_id: UUID, *, keep: bool = False
) -> str:
    """Evaluate one request in full and write its match set. Answers what happened:
    `proposed`, `updated` (a new version), `refreshed` (in place), `unchanged` or `skipped`.
    With `keep` (after a financing product changed), the stored entries of the products whose
    outcome did not change are kept rather than rebuilt with their explanations."""
    now = utcnow()
    evaluated = matcher.evaluate(request_id, now.date())
    if evaluated is None:
        return "skipped"
    request, profile, evaluation = evaluated
    snapshot = matcher.snapshots[request_id]
    row = await uow.requests.get(request_id)
    assert row is not None
    existing = await uow.match_sets.get_for_update(request_id)
    kept = _Kept(matcher, existing if keep else None, row.aggregate_version)
    ranked = evaluation.matches()
    matches = [kept.match(o) or matcher.match_entry(o, request, profile) for o in ranked]
    excluded = [
        kept.miss(o) or matcher.miss_entry(o, request, profile)
        for o in evaluation.nearest_misses(matcher.nearest_misses)
    ]
    total = evaluation.excluded_total
    if existing is None:
        match_set = MatchSet(
            request_id=request_id,
            exporter_id=snapshot.exporter_id,
            org=snapshot.org,
            region=snapshot.region or profile.region,
            status="proposed",
            version=1,
            computed_at=now,
            catalogue_seq=matcher.seq,
            fx_as_of=matcher.fx.as_of,
            matches=matches,
            excluded=excluded,
            excluded_total=total,
            request_version=row.aggregate_version,
            event_version=0,
        )
        uow.match_sets.add(match_set)
        await uow.entries.replace(request_id, [o.product_id for o in ranked])
        emit_match_set(uow, match_set, events.MatchSetProposed)
        return "proposed"
    if existing.status == "rejected":
        return "skipped"
    if existing.status == "approved":
        return await _append_new_fits(uow, matcher, existing, matches, excluded, total, now)
    material = (
        _order(matches) != _order(existing.matches)
        or row.aggregate_version != existing.request_version
    )
    content_changed = (
        matches != existing.matches
        or excluded != existing.excluded
        or total != existing.excluded_total
    )
    if not material and not content_changed:
        return "unchanged"
    held_before = {e.get("product_id") for e in existing.matches}
    existing.matches = matches
    existing.excluded = excluded
    existing.excluded_total = total
    existing.catalogue_seq = matcher.seq
    existing.fx_as_of = matcher.fx.as_of
    existing.request_version = row.aggregate_version
    if held_before != {str(o.product_id) for o in ranked}:
        held = [UUID(str(product_id)) for product_id in held_before]
        await uow.entries.update(request_id, held, [o.product_id for o in ranked])
    if not material:
        # `computed_at` is when this version was computed, and the queue's order: a refresh in
        # place keeps the set where it stands in the advisors' queue.
        uow.match_sets.add(existing)
        return "refreshed"
    existing.computed_at = now
    existing.version += 1
    uow.match_sets.add(existing)
    emit_match_set(uow, existing, events.MatchSetUpdated)
    return "updated"


async def _append_new_fits(
    uow: MatchingUnitOfWork,
    matcher: Matcher,
    frozen: MatchSet,
    matches: list[JsonObject],
    excluded: list[JsonObject],
    total: int,
    now: datetime,
) -> str:
    """An approved set keeps the matches it was approved with; the new fits are appended, and
    the misses are those of the catalogue the new fits come from."""
    held = {e.get("product_id") for e in frozen.matches}
    new = [{**m, "new_since_review": True} for m in matches if m.get("product_id") not in held]
    if not new:
        return "unchanged"
    frozen.matches = [*frozen.matches, *new]
    frozen.excluded = excluded
    frozen.excluded_total = total
    frozen.catalogue_seq = matcher.seq
    frozen.fx_as_of = matcher.fx.as_of
    frozen.computed_at = now
    frozen.version += 1
    uow.match_sets.add(frozen)
    ids = [UUID(str(e.get("product_id"))) for e in frozen.matches]
    await uow.entries.replace(frozen.request_id, ids)
    emit_match_set(uow, frozen, events.MatchSetUpdated)
    return "updated"


def emit_match_set(
    uow: MatchingUnitOfWork,
    match_set: MatchSet,
    kind: type[events.MatchSetProposed] | type[events.MatchSetUpdated],
) -> None:
    """Write the set's snapshot event; its envelope's `aggregate_version` counts the set's
    events (`event_version`), of which a status change is one too."""
    match_set.event_version += 1
    event = kind(
        request_id=match_set.request_id,
        exporter_id=match_set.exporter_id,
        org=match_set.org,
        region=match_set.region,
        status=match_set.status,
        version=match_set.version,
        computed_at=match_set.computed_at,
        catalogue_seq=match_set.catalogue_seq,
        fx_as_of=match_set.fx_as_of,
        matches=tuple(_match_snapshot(m) for m in match_set.matches),
        excluded_total=match_set.excluded_total,
    )
    uow.outbox.add(
        event, aggregate_id=match_set.request_id, aggregate_version=match_set.event_version
    )


def _match_snapshot(entry: JsonObject) -> events.MatchSnapshot:
    reasons = entry.get("reasons")
    bundle = entry.get("bundle")
    return events.MatchSnapshot.model_validate(
        {
            **entry,
            "reasons": [
                {"code": r["code"], "passed": r["passed"]}
                for r in (reasons if isinstance(reasons, list) else [])
                if isinstance(r, dict)
            ],
            "bundle": [
                b["product_id"]
                for b in (bundle if isinstance(bundle, list) else [])
                if isinstance(b, dict)
            ],
        }
    )


async def rematch(
    uow: MatchingUnitOfWork, matcher: Matcher, request_ids: Iterable[UUID], *, keep: bool = False
) -> dict[str, int]:
    """`compute` for each request; answers how many ended each way."""
    tally: dict[str, int] = {}
    for request_id in sorted(set(request_ids)):
        result = await compute(uow, matcher, request_id, keep=keep)
        tally[result] = tally.get(result, 0) + 1
    return tally


async def affected_by_product(
    uow: MatchingUnitOfWork,
    matcher: Matcher,
    product_id: UUID,
    before: Product | None,
    after: Product | None,
    today: date,
) -> set[UUID]:
    """The open requests whose match set a product change may alter: those holding it, those
    it could now fit, and, for a guarantee or an insurance product, those it could be (or could
    have been) bundled into: it passes their rules, and they ask for the instrument of a
    product that needs it."""
    affected = set(await uow.entries.requests_with(product_id))
    if after is not None:
        scope = matcher.products.bundled_into(after) if after.is_bundle_product else None
        screening = matcher.requests.screen(after, today, scope)
        affected.update(screening.fits)
        if scope is not None:
            affected.update(screening.clean)
    if before is not None and before.is_bundle_product:
        scope = matcher.products.bundled_into(before)
        affected.update(matcher.requests.screen(before, today, scope).clean)
    return {r for r in affected if r in matcher.requests}
