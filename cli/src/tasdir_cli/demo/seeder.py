"""Apply a demo data set to a running system through its public APIs, idempotently.

The stages, each of which first reads what is there and only writes what is missing:

1. **providers** (an admin): found by name, else registered;
2. **products** (each provider): found among its own by French name, else created; a draft is
   published;
3. **exporters** (each its own token, `org` = its key): found by organisation, else registered;
4. **requests** (each exporter): found by their terms among the organisation's requests, else
   submitted;
5. **matching**: waits until matching has computed a match set for every request;
6. **deals**: takes each request as far as its story says (the advisor opens, approves the best
   matches or rejects with a note; the provider answers, asks, offers or declines; the exporter
   consents, replies, accepts or declines the offer; or withdraws). Each step looks at the
   state first, so a step already taken is never taken twice.

So seeding twice creates nothing the second time, and a seeding that was stopped half-way
finishes where it stopped. Creates also carry an `Idempotency-Key`, so that two seeders running
at once (`make run` and `make demo` on a fresh system) do not both create the same thing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from tasdir.reference import minor_units

from tasdir_cli.demo.api import ADMIN, ApiError, DemoApi, identity
from tasdir_cli.demo.catalogue import DemoProduct
from tasdir_cli.demo.generator import REFERRED, DemoData, DemoExporter, DemoRequest, Offer
from tasdir_cli.devtoken import DevIdentity

STAGES = ("providers", "products", "exporters", "requests", "matching", "deals")
WATCH = identity("admin", "demo-admin-watch")
FINAL = frozenset({"rejected", "declined", "closed", "withdrawn"})
#: The request's status once each story is told.
STORY_STATUS = {
    "matched": "matched",
    "in_review": "in_review",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
    "referred": "referred",
    "interested": "referred",
    "question": "referred",
    "answered": "referred",
    "offer": "offered",
    "accepted": "closed",
    "offer_declined": "offered",
    "declined": "declined",
}
INTERESTED = "Votre dossier nous intéresse ; un chargé d'affaires vous contacte cette semaine."
NO_MATCH = (
    "Aucun produit du catalogue ne correspond à cette demande en l'état ; la délégation "
    "régionale vous propose un rendez-vous pour la reformuler."
)
OFFICERS = 4  # users of each provider who answer referrals
ADVISORS = 3  # advisors of each regional office


class Reporter(Protocol):
    """What a seeding shows while it runs: a stage starts with its total, advances, finishes."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, count: int = 1) -> None: ...

    def finish(self, stage: str, summary: str) -> None: ...


class Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, count: int = 1) -> None:
        pass

    def finish(self, stage: str, summary: str) -> None:
        pass


@dataclass
class SeedReport:
    """What a seeding did: what it created and what it found there already, per kind."""

    created: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self, kind: str) -> str:
        made, there = self.created[kind], self.found[kind]
        return f"{made + there} {kind}" + (f" ({made} new)" if made and there else "")

    def summary(self) -> str:
        kinds = ("providers", "products", "exporters", "requests")
        steps = sum(self.created[k] for k in DEAL_STEPS)
        found = ", ".join(self.line(k) for k in kinds)
        if not +self.created:
            return f"{found}, all there already; nothing new ({self.seconds:.0f} s)"
        return f"{found}; {steps} deal steps taken in {self.seconds:.0f} s"


DEAL_STEPS = (
    "withdrawals",
    "openings",
    "reviews",
    "answers",
    "consents",
    "replies",
    "offers",
    "decisions",
)


class SeedingError(Exception):
    """The system did not get where the data set needs it in time."""


@dataclass
class Seeder:
    """Applies `data` through `api`, showing its progress on `reporter`."""

    api: DemoApi
    data: DemoData
    reporter: Reporter = field(default_factory=Silent)
    concurrency: int = 10
    timeout: float = 300.0
    report: SeedReport = field(default_factory=SeedReport)
    provider_ids: dict[str, str] = field(default_factory=dict)
    product_ids: dict[str, str] = field(default_factory=dict)
    exporter_ids: dict[str, str] = field(default_factory=dict)
    request_ids: dict[str, str] = field(default_factory=dict)
    request_status: dict[str, str] = field(default_factory=dict)

    async def run(self, *, deals: bool = True) -> SeedReport:
        began = time.monotonic()
        await self.catalogue()
        await self.exporters()
        await self.requests()
        await self.matching()
        if deals:
            await self.deals()
        self.report.seconds = time.monotonic() - began
        return self.report

    async def catalogue(self) -> None:
        await self.providers()
        await self.products()

    # --- identities -------------------------------------------------------------------------

    def provider_user(self, provider_id: str, role: str = "catalogue", n: int = 0) -> DevIdentity:
        key = next((k for k, v in self.provider_ids.items() if v == provider_id), provider_id)
        sub = f"demo-{key}-{role}" if role == "catalogue" else f"demo-{key}-{role}-{n}"
        return identity("provider", sub, provider_id=provider_id)

    @staticmethod
    def exporter_user(exporter: DemoExporter) -> DevIdentity:
        return identity("exporter", exporter.user, org=exporter.key)

    def advisor(self, region: str, n: int = 0) -> DevIdentity:
        base = self.data.advisors.get(region, f"demo-advisor-{region}")
        return identity("advisor", f"{base}-{n % ADVISORS}", regions=[region])

    # --- the catalogue ----------------------------------------------------------------------

    async def providers(self) -> None:
        self.reporter.start("providers", len(self.data.providers))
        known = {p["name"]: p["id"] for p in await self.api.all("/v1/providers", ADMIN)}
        for provider in self.data.providers:
            name = provider.body["name"]
            if name in known:
                self.report.found["providers"] += 1
            else:
                created = await self.api.post(
                    "/v1/providers", ADMIN, provider.body, key=f"demo-provider-{provider.key}"
                )
                known[name] = created["id"]
                self.report.created["providers"] += 1
            self.provider_ids[provider.key] = str(known[name])
            self.reporter.advance("providers")
        self.reporter.finish("providers", self.report.line("providers"))

    async def products(self) -> None:
        self.reporter.start("products", len(self.data.products))
        by_provider: dict[str, list[DemoProduct]] = {}
        for product in self.data.products:
            by_provider.setdefault(product.provider, []).append(product)
        await self._each(by_provider.items(), lambda item: self._provider_products(*item))
        self.reporter.finish("products", self.report.line("products"))

    async def _provider_products(self, provider: str, products: list[DemoProduct]) -> None:
        provider_id = self.provider_ids[provider]
        who = self.provider_user(provider_id)
        mine = await self.api.all("/v1/products", who, {"provider_id": provider_id})
        known = {p["name"]["fr"]: p for p in mine}
        for product in products:
            found = known.get(product.body["name"]["fr"])
            if found is None:
                body = dict(product.body)
                if product.partners:
                    body["partner_provider_ids"] = [self.provider_ids[p] for p in product.partners]
                found = await self.api.post(
                    "/v1/products", who, body, key=f"demo-product-{product.key}"
                )
                self.report.created["products"] += 1
            else:
                self.report.found["products"] += 1
            if found["status"] == "draft":
                await self.api.call(
                    "POST", f"/v1/products/{found['id']}/publish", who, ok=(200, 409)
                )
            self.product_ids[product.key] = str(found["id"])
            self.reporter.advance("products")

    # --- exporters and their requests ------------------------------------------------------

    async def exporters(self, only: Iterable[str] | None = None) -> None:
        wanted = None if only is None else set(only)
        chosen = [e for e in self.data.exporters if wanted is None or e.key in wanted]
        self.reporter.start("exporters", len(chosen))
        known = {e["org"]: str(e["id"]) for e in await self.api.all("/v1/exporters", ADMIN)}
        self.exporter_ids.update(known)

        async def register(exporter: DemoExporter) -> None:
            if exporter.key in known:
                self.report.found["exporters"] += 1
            else:
                exporter_id = await self.register(exporter)
                if exporter_id is not None:
                    self.exporter_ids[exporter.key] = exporter_id
            self.reporter.advance("exporters")

        await self._each(chosen, register)
        self.reporter.finish("exporters", self.report.line("exporters"))

    async def register(self, exporter: DemoExporter) -> str | None:
        """Register `exporter`, or find its profile; None if its ICE belongs to another."""
        who = self.exporter_user(exporter)
        response = await self.api.call(
            "POST", "/v1/exporters", who, body=exporter.body, key="demo-profile", ok=(201, 409)
        )
        if response.status_code == 201:
            self.report.created["exporters"] += 1
            return str(response.json()["id"])
        if "duplicate-ice" in response.text:
            self.report.notes.append(
                f"{exporter.body['legal_name']}: ICE {exporter.body['ice']} belongs to another "
                "exporter; left out"
            )
            return None
        self.report.found["exporters"] += 1
        return str((await self.api.get("/v1/exporters/me", who))["id"])

    async def requests(self) -> None:
        wanted = [r for r in self.data.requests if r.exporter in self.exporter_ids]
        self.reporter.start("requests", len(wanted))
        existing: dict[str, list[dict[str, Any]]] = {}
        for item in await self.api.all("/v1/financing-requests", ADMIN):
            existing.setdefault(item["org"], []).append(item)

        async def submit(request: DemoRequest) -> None:
            found = _claim(existing.get(request.exporter, []), request.body)
            if found is None:
                number = request.key.rsplit("/", 1)[-1]
                found = await self.api.post(
                    "/v1/financing-requests",
                    self.exporter_user(self.data.exporter(request.exporter)),
                    request.body,
                    key=f"demo-request-{number}",
                )
                self.report.created["requests"] += 1
            else:
                self.report.found["requests"] += 1
            self.request_ids[request.key] = str(found["id"])
            self.request_status[request.key] = str(found["status"])
            self.reporter.advance("requests")

        await self._each(wanted, submit)
        self.reporter.finish("requests", self.report.line("requests"))

    async def matching(self) -> None:
        """Wait until matching has a match set for each request (the exporters service hears
        of it: the request is no longer `submitted`)."""
        ours = {v: k for k, v in self.request_ids.items()}
        self.reporter.start("matching", len(ours))
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            waiting = {
                str(r["id"])
                for r in await self.api.all(
                    "/v1/financing-requests", WATCH, {"status": "submitted"}
                )
            } & set(ours)
            matched = len(ours) - len(waiting)
            self.reporter.advance("matching", matched - seen)
            seen = matched
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise SeedingError(
                    f"{len(waiting)} requests still have no match set after {self.timeout:.0f} s"
                )
            await self.api.sleep(1.0)
        statuses = await self.api.all("/v1/financing-requests", ADMIN)
        for item in statuses:
            key = ours.get(str(item["id"]))
            if key is not None:
                self.request_status[key] = str(item["status"])
        self.reporter.finish("matching", f"{len(ours)} requests matched")

    # --- the deal flow ----------------------------------------------------------------------

    async def deals(self) -> None:
        told = [r for r in self.data.requests if r.story != "matched" and r.key in self.request_ids]
        self.reporter.start("deals", len(told))

        async def tell(numbered: tuple[int, DemoRequest]) -> None:
            n, request = numbered
            try:
                await self.deal(request, n)
            except (ApiError, SeedingError) as exc:
                self.report.errors.append(f"{request.key} ({request.story}): {exc}")
            self.reporter.advance("deals")

        await self._each(list(enumerate(told)), tell)
        steps = sum(self.report.created[k] for k in DEAL_STEPS)
        self.reporter.finish("deals", f"{len(told)} deals, {steps} steps taken")

    async def deal(self, request: DemoRequest, n: int) -> None:
        """Take one request as far as its story goes, from wherever it is."""
        request_id = self.request_ids[request.key]
        status = self.request_status.get(request.key, "submitted")
        if status in FINAL or status == STORY_STATUS[request.story] == "in_review":
            return
        exporter = self.data.exporter(request.exporter)
        if request.story == "withdrawn":
            await self.api.post(
                f"/v1/financing-requests/{request_id}/withdraw", self.exporter_user(exporter)
            )
            self.report.created["withdrawals"] += 1
            return
        advisor = self.advisor(exporter.region, n)
        # An advisor's first read opens a proposed set: it is then `in_review`.
        match_set = await self.api.get(f"/v1/match-sets/{request_id}", advisor)
        if status in ("submitted", "matched"):
            self.report.created["openings"] += 1
        if request.story == "in_review":
            return
        if match_set["status"] == "rejected":
            return
        if request.story == "rejected":
            await self.review(request_id, advisor, "reject", note=request.note)
            return
        approved = _approved(match_set)
        if not approved:
            chosen = [str(m["product_id"]) for m in match_set["matches"][: request.approve]]
            if not chosen:
                self.report.notes.append(f"{request.key}: no match to approve; rejected")
                await self.review(request_id, advisor, "reject", note=NO_MATCH)
                return
            await self.review(
                request_id,
                advisor,
                "approve",
                product_ids=chosen,
                note=request.note,
                version=match_set["version"],
            )
            approved = chosen
        referrals = await self.referrals(request_id, self.exporter_user(exporter), approved)
        await self.answer(request, exporter, referrals, n)

    async def review(
        self, request_id: str, advisor: DevIdentity, decision: str, **fields: Any
    ) -> None:
        body = {"decision": decision, **{k: v for k, v in fields.items() if v is not None}}
        response = await self.api.call(
            "POST",
            f"/v1/match-sets/{request_id}/review",
            advisor,
            body=body,
            key=f"demo-review-{request_id}",
            ok=(200, 409),
        )
        if response.status_code == 200:
            self.report.created["reviews"] += 1
        elif "stale-match-set" in response.text:
            # The set changed since it was read: review the version there is now.
            fresh = await self.api.get(f"/v1/match-sets/{request_id}", advisor)
            body["version"] = fresh["version"]
            await self.api.post(f"/v1/match-sets/{request_id}/review", advisor, body)
            self.report.created["reviews"] += 1

    async def referrals(
        self, request_id: str, exporter: DevIdentity, product_ids: list[str]
    ) -> list[dict[str, Any]]:
        """The request's referrals, in the order of `product_ids`, once matching's consumer has
        made them all."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = await self.api.all("/v1/referrals", exporter, {"request_id": request_id})
            by_product = {str(r["product_id"]): r for r in found}
            if all(p in by_product for p in product_ids):
                return [by_product[p] for p in product_ids]
            if time.monotonic() > deadline:
                raise SeedingError(f"the referrals of {request_id} were never made")
            await self.api.sleep(0.5)

    async def answer(
        self,
        request: DemoRequest,
        exporter: DemoExporter,
        referrals: list[dict[str, Any]],
        n: int,
    ) -> None:
        story = request.story
        if story == "referred":
            return
        first = referrals[0]
        bank = self.provider_user(str(first["provider_id"]), "officer", n % OFFICERS)
        if story == "declined":
            assert request.decline is not None
            code, message = request.decline
            for referral in referrals:
                if referral["status"] != "declined":
                    officer = self.provider_user(
                        str(referral["provider_id"]), "officer", n % OFFICERS
                    )
                    await self.respond(
                        referral, officer, status="declined", reason_code=code, message=message
                    )
            return
        if story == "interested":
            if first["status"] == "sent":
                await self.respond(first, bank, status="interested", message=INTERESTED)
            return
        referral = first
        if referral["status"] in ("sent", "interested"):
            referral = await self.respond(
                referral, bank, status="info_requested", message=request.question
            )
        if story == "question":
            return
        me = self.exporter_user(exporter)
        await self.consent(exporter, str(referral["provider_id"]))
        if referral["status"] == "info_requested" and referral.get("reply") is None:
            referral = await self.api.post(
                f"/v1/referrals/{referral['id']}/reply",
                me,
                {"message": request.reply},
                key=f"demo-reply-{referral['id']}",
            )
            self.report.created["replies"] += 1
        if story == "answered":
            return
        if referral["status"] == "info_requested":
            assert request.offer is not None
            terms = offer_terms(referral["request"], request.offer)
            referral = await self.respond(referral, bank, status="offer", terms=terms)
            self.report.created["offers"] += 1
        if story == "offer":
            return
        offer = referral.get("offer") or {}
        if referral["status"] == "offer" and offer.get("decision") is None:
            verb = "accept" if story == "accepted" else "decline"
            await self.api.post(
                f"/v1/referrals/{referral['id']}/offer/{verb}",
                me,
                key=f"demo-{verb}-{referral['id']}",
            )
            self.report.created["decisions"] += 1

    async def respond(
        self, referral: dict[str, Any], officer: DevIdentity, **answer: Any
    ) -> dict[str, Any]:
        body = {k: v for k, v in answer.items() if v is not None}
        answered: dict[str, Any] = await self.api.post(
            f"/v1/referrals/{referral['id']}/response", officer, body
        )
        self.report.created["answers"] += 1
        return answered

    async def consent(self, exporter: DemoExporter, provider_id: str) -> None:
        exporter_id = self.exporter_ids[exporter.key]
        response = await self.api.call(
            "POST",
            f"/v1/exporters/{exporter_id}/consents",
            self.exporter_user(exporter),
            body={"provider_id": provider_id},
        )
        if response.status_code == 201:
            self.report.created["consents"] += 1

    # --- running many at once ---------------------------------------------------------------

    async def _each(self, items: Iterable[Any], work: Callable[[Any], Awaitable[None]]) -> None:
        """`work` on each item, a few at a time; all of them end before the first error is
        raised (so that none is left calling the API behind the caller's back)."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: Any) -> None:
            async with gate:
                await work(item)

        outcomes = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


def _terms(body: dict[str, Any]) -> tuple[Any, ...]:
    return (
        body["instrument"],
        Decimal(str(body["amount"])),
        body["currency"],
        int(body["tenor_days"]),
        body["destination"],
        tuple(body["hs_codes"]),
    )


def _claim(existing: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any] | None:
    """The first request of `existing` with the terms of `body`, taken out of the list (so
    that two identical requests of the data set find two requests)."""
    wanted = _terms(body)
    for index, item in enumerate(existing):
        if _terms(item) == wanted:
            return existing.pop(index)
    return None


def _approved(match_set: dict[str, Any]) -> list[str]:
    """The products approved so far, in the order of the audit trail."""
    approved: list[str] = []
    for entry in match_set.get("audit") or []:
        if entry["action"] == "approved":
            approved += [str(p) for p in entry["product_ids"] if str(p) not in approved]
    return approved


def offer_terms(
    request: dict[str, Any], offer: Offer, now: datetime | None = None
) -> dict[str, Any]:
    """An offer's terms for the request a referral carries: a share of its amount, in its
    currency and over its tenor, valid `offer.valid_days` days (until 18:00 UTC)."""
    now = now or datetime.now(UTC)
    currency = str(request["currency"])
    places = Decimal(1).scaleb(-minor_units(currency))
    amount = (Decimal(str(request["amount"])) * offer.amount_pct / 100).quantize(places)
    valid_until = (now + timedelta(days=offer.valid_days)).replace(
        hour=18, minute=0, second=0, microsecond=0
    )
    terms: dict[str, Any] = {
        "amount": str(amount),
        "currency": currency,
        "rate_pct": offer.rate_pct,
        "fees_pct": offer.fees_pct,
        "tenor_days": int(request["tenor_days"]),
        "valid_until": valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "binding": offer.binding,
    }
    if offer.conditions:
        terms["conditions"] = offer.conditions
    return terms


__all__ = [
    "REFERRED",
    "STAGES",
    "Reporter",
    "SeedReport",
    "Seeder",
    "SeedingError",
    "Silent",
    "offer_terms",
]
