"""The guided demo (`make demo`): one deal from request to accepted offer, against a running
system, each step printed for a person to follow.

1. A mono-market exporter of Souss-Massa (it sells most of its citrus to France) asks for
   pre-shipment finance for a new AfCFTA market, Senegal.
2. It sees its ranked matches with their reasons, why the other products do not fit, and a
   loan bundled with the public export guarantee.
3. The advisor of Souss-Massa opens the match set and approves the best match and the
   guaranteed loan: one referral goes to each bank.
4. The bank sees an anonymised referral and asks a question; the exporter consents to share
   its file and answers; the bank, which now sees who the exporter is, makes an offer.
5. The exporter compares its offers and accepts: the request is closed.

Everything goes through the public APIs with dev tokens. The walkthrough makes sure the demo
catalogue and its exporter are there first (it seeds them when `make run DEMO=0` left the
system empty), then submits a new request: it can be run again and again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tasdir_cli.demo.api import DemoApi, identity
from tasdir_cli.demo.generator import DemoData
from tasdir_cli.demo.seeder import Seeder, offer_terms
from tasdir_cli.demo.startup import accounts
from tasdir_cli.demo.views import (
    excluded_table,
    matches_table,
    money,
    name_of,
    percent,
    reasons,
)
from tasdir_cli.devtoken import DevIdentity

STEPS = (
    "A mono-market exporter in Souss-Massa asks for pre-shipment finance for a new AfCFTA market",
    "It sees ranked matches, why-nots and a guarantee bundle",
    "The regional advisor approves",
    "The bank asks a question, gets an answer and makes an offer",
    "The exporter accepts",
)
DONE = "The walkthrough is complete"


class WalkthroughError(Exception):
    """A step did not come out as the walkthrough expects."""


@dataclass
class Outcome:
    request_id: str
    referral_id: str
    status: str
    all_in_cost_pct: float | None


@dataclass
class Walk:
    api: DemoApi
    data: DemoData
    console: Console
    timeout: float = 120.0

    def __post_init__(self) -> None:
        self.seeder = Seeder(self.api, self.data)
        self.providers: dict[str, str] = {}

    # --- printing ---------------------------------------------------------------------------

    def step(self, number: int) -> None:
        self.console.print()
        self.console.rule(f"[bold]Step {number}. {STEPS[number - 1]}", align="left")

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def call(self, method: str, path: str, who: DevIdentity) -> None:
        self.console.print(f"  [dim]{method} {path}  ({who.role} {who.sub})[/dim]", highlight=False)

    # --- waiting ----------------------------------------------------------------------------

    async def until(self, what: str, probe: Any) -> Any:
        """Call `probe()` until it returns something, for `timeout` seconds at most: events
        travel between the services, so the next state comes a moment later."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = await probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise WalkthroughError(f"{what}: nothing after {self.timeout:.0f} s")
            await self.api.sleep(0.5)

    # --- the walkthrough --------------------------------------------------------------------

    async def run(self) -> Outcome:
        data, api = self.data, self.api
        self.say("[bold]Tasdir: the guided demo[/bold], against " + str(api.client.base_url))
        await self.seeder.catalogue()
        await self.seeder.exporters(only=[data.walkthrough.exporter])
        self.providers = {
            str(p["id"]): str(p["name"])
            for p in await api.all("/v1/providers", self.seeder_admin())
        }
        self.say(
            f"The demo catalogue is in place: {len(data.providers)} providers, "
            f"{len(data.products)} products."
        )
        exporter_account, advisor_account, bank_account, _ = accounts(
            data, self.seeder.provider_ids
        )
        exporter, advisor, bank = (
            exporter_account.identity,
            advisor_account.identity,
            bank_account.identity,
        )
        request_id = await self.ask(exporter)
        match_set = await self.matches(exporter, request_id)
        referral = await self.approve(advisor, exporter, request_id, match_set)
        referral = await self.negotiate(bank, exporter, referral)
        outcome = await self.accept(exporter, referral)
        self.console.print()
        self.say(
            f"[bold green]{DONE}[/bold green]: request {outcome.request_id} is "
            f"{outcome.status}, financed at {percent(outcome.all_in_cost_pct)} a year all in."
        )
        return outcome

    def seeder_admin(self) -> DevIdentity:
        return identity("admin", "demo-guide-admin")

    async def ask(self, exporter: DevIdentity) -> str:
        self.step(1)
        self.call("GET", "/v1/exporters/me", exporter)
        profile = await self.api.get("/v1/exporters/me", exporter)
        markets: dict[str, float] = {}
        for line in profile["exports"]:
            markets[line["destination"]] = markets.get(line["destination"], 0) + line["share_pct"]
        shown = ", ".join(f"{m} {s:g} %" for m, s in sorted(markets.items(), key=lambda i: -i[1]))
        self.say(
            f"[bold]{profile['legal_name']}[/bold] ({profile['region']}): "
            f"{profile['employees']} employees, "
            f"turnover {money(profile['annual_turnover_mad'])} MAD "
            f"of which {profile['export_share_pct']:g} % exported, mostly HS "
            f"{profile['exports'][0]['hs_code']} (citrus).\n"
            f"Its export markets: {shown}; mono-market: "
            f"{'yes' if profile['is_mono_market'] else 'no'}."
        )
        body = self.data.walkthrough.request
        self.call("POST", "/v1/financing-requests", exporter)
        request = await self.api.post(
            "/v1/financing-requests", exporter, body, key=f"guide-{uuid.uuid4()}"
        )
        self.say(
            f"It asks for [bold]{money(request['amount'], request['currency'])}[/bold] of "
            f"{request['instrument'].replace('_', '-')} finance over {request['tenor_days']} days, "
            f"for citrus (HS {', '.join(request['hs_codes'])}) sold to "
            f"{request['destination']} (Senegal, an AfCFTA market it has never sold to), "
            f"paid by letter of credit.\nRequest {request['id']}: {request['status']}."
        )
        return str(request["id"])

    async def matches(self, exporter: DevIdentity, request_id: str) -> dict[str, Any]:
        self.step(2)
        product_id = self.seeder.product_ids[self.data.walkthrough.product]

        async def bundled() -> dict[str, Any] | None:
            response = await self.api.call(
                "GET", f"/v1/match-sets/{request_id}", exporter, ok=(200, 404)
            )
            if response.status_code != 200:
                return None
            found: dict[str, Any] = response.json()
            ids = {str(m["product_id"]) for m in found["matches"]}
            return found if product_id in ids else None

        self.call("GET", f"/v1/match-sets/{request_id}", exporter)
        match_set = await self.until("the match set with its guarantee bundle", bundled)
        self.say(
            f"Matching ranked {len(match_set['matches'])} products that fit, and excluded "
            f"{match_set['excluded_total']}. The exporter reads them (`Accept-Language: fr` "
            "gives the reasons in French):"
        )
        self.console.print(matches_table(match_set, self.providers, with_reasons=False))
        entry = next(m for m in match_set["matches"] if str(m["product_id"]) == product_id)
        bundle = entry["bundle"][0]
        self.say(
            f"[bold]The guarantee bundle[/bold]: {name_of(entry['name'])} "
            f"({self.providers.get(str(entry['provider_id']))}) requires a guarantee, and "
            f"matching bundles it with {name_of(bundle['name'])} "
            f"({self.providers.get(str(bundle['provider_id']))}, {bundle['cover_pct']:g} % "
            f"cover); its all-in cost counts the guarantee's premium: "
            f"{percent(entry['all_in_cost_pct'])} a year. Its reasons:"
        )
        self.console.print(reasons(entry))
        self.say("[bold]Why not[/bold]: the products that do not fit, nearest first:")
        self.console.print(excluded_table(match_set["excluded"][:8], self.providers))
        return match_set

    async def approve(
        self,
        advisor: DevIdentity,
        exporter: DevIdentity,
        request_id: str,
        match_set: dict[str, Any],
    ) -> dict[str, Any]:
        self.step(3)
        self.call("GET", f"/v1/match-sets/{request_id}", advisor)
        opened = await self.api.get(f"/v1/match-sets/{request_id}", advisor)
        self.say(
            f"The advisor of {opened['region']} opens the set: it is now "
            f"[bold]{opened['status']}[/bold]."
        )
        guaranteed = self.seeder.product_ids[self.data.walkthrough.product]
        best = str(opened["matches"][0]["product_id"])
        chosen = list(dict.fromkeys([best, guaranteed]))
        self.call("POST", f"/v1/match-sets/{request_id}/review", advisor)
        reviewed = await self.api.post(
            f"/v1/match-sets/{request_id}/review",
            advisor,
            {
                "decision": "approve",
                "product_ids": chosen,
                "version": opened["version"],
                "note": "Premier export vers le Sénégal : dossier complet, à accompagner.",
            },
            key=f"guide-review-{request_id}",
        )
        names = {str(m["product_id"]): name_of(m["name"]) for m in reviewed["matches"]}
        self.say(
            f"It approves {len(chosen)} matches ({'; '.join(names[p] for p in chosen)}): the set "
            f"is [bold]{reviewed['status']}[/bold]. The audit trail:"
        )
        for entry in reviewed.get("audit") or []:
            self.say(f"  {entry['at']}  {entry['action']} by {entry['actor']}")

        async def made() -> list[dict[str, Any]] | None:
            found = await self.api.all("/v1/referrals", exporter, {"request_id": request_id})
            return found if len(found) >= len(chosen) else None

        referrals = await self.until("the referrals", made)
        for referral in referrals:
            self.say(
                f"Referral to {self.providers.get(str(referral['provider_id']))}: "
                f"{name_of(referral['product_name'])}, {referral['status']}."
            )
        return next(r for r in referrals if str(r["product_id"]) == guaranteed)

    async def negotiate(
        self, bank: DevIdentity, exporter: DevIdentity, referral: dict[str, Any]
    ) -> dict[str, Any]:
        self.step(4)
        walk = self.data.walkthrough
        path = f"/v1/referrals/{referral['id']}"
        self.call("GET", path, bank)
        seen = await self.api.get(path, bank)
        anonymous = seen["exporter"]
        self.say(
            f"The bank sees the referral, anonymised until the exporter consents: a "
            f"{anonymous['size_band']} exporter of {anonymous['region']}, HS chapters "
            f"{', '.join(anonymous['hs_chapters'])}, asking "
            f"{money(seen['request']['amount'], seen['request']['currency'])} for "
            f"{seen['request']['tenor_days']} days to {seen['request']['destination']}; "
            f"the loan is bundled with {name_of(seen['bundle'][0]['name'])}."
        )
        self.call("POST", f"{path}/response", bank)
        asked = await self.api.post(
            f"{path}/response", bank, {"status": "info_requested", "message": walk.question}
        )
        self.say(f"It asks ({asked['status']}): [italic]{walk.question}[/italic]")
        exporter_id = self.seeder.exporter_ids[walk.exporter]
        bank_id = str(referral["provider_id"])
        self.call("POST", f"/v1/exporters/{exporter_id}/consents", exporter)
        await self.api.post(
            f"/v1/exporters/{exporter_id}/consents", exporter, {"provider_id": bank_id}
        )
        self.call("POST", f"{path}/reply", exporter)
        await self.api.post(
            f"{path}/reply", exporter, {"message": walk.reply}, key=f"guide-reply-{referral['id']}"
        )
        self.say(
            "The exporter consents to share its file with the bank, and answers: "
            f"[italic]{walk.reply}[/italic]"
        )

        async def revealed() -> dict[str, Any] | None:
            found: dict[str, Any] = await self.api.get(path, bank)
            return found if found["exporter"].get("identity") else None

        found = await self.until("the exporter's identity, once the consent is known", revealed)
        who = found["exporter"]["identity"]
        self.say(
            f"The consent reaches matching: the bank now sees [bold]{who.get('legal_name')}"
            f"[/bold] (ICE {who.get('ice')}), and the disclosure is in the exporter's access log."
        )
        terms = offer_terms(found["request"], walk.offer)
        self.call("POST", f"{path}/response", bank)
        offered = await self.api.post(
            f"{path}/response",
            bank,
            {"status": "offer", "message": "Offre ferme, sous garantie.", "terms": terms},
        )
        offer = offered["offer"]
        self.say(
            f"It offers {money(offer['amount'], offer['currency'])} at {offer['rate_pct']:g} % "
            f"plus {offer['fees_pct']:g} % of fees over {offer['tenor_days']} days, valid until "
            f"{offer['valid_until']}: [bold]{percent(offer['all_in_cost_pct'])}[/bold] a year all "
            f"in ({'binding' if offer['binding'] else 'indicative'})."
        )
        return offered

    async def accept(self, exporter: DevIdentity, referral: dict[str, Any]) -> Outcome:
        self.step(5)
        request_id = str(referral["request_id"])
        self.call("GET", "/v1/referrals/offers", exporter)
        offers = await self.api.all("/v1/referrals/offers", exporter, {"request_id": request_id})
        table = Table(title="Its offers", box=box.SIMPLE_HEAVY)
        for column in ("product", "provider", "amount", "all-in", "valid until", "decision"):
            table.add_column(column)
        for line in offers:
            offer = line["offer"]
            table.add_row(
                name_of(line["product_name"]),
                self.providers.get(str(line["provider_id"]), ""),
                money(offer["amount"], offer["currency"]),
                percent(offer["all_in_cost_pct"]),
                str(offer["valid_until"]),
                str(offer["decision"] or "open"),
            )
        self.console.print(table)
        path = f"/v1/referrals/{referral['id']}/offer/accept"
        self.call("POST", path, exporter)
        accepted = await self.api.post(path, exporter, key=f"guide-accept-{referral['id']}")
        self.say(
            f"The exporter accepts: the offer is [bold]{accepted['offer']['decision']}[/bold]."
        )

        async def closed() -> dict[str, Any] | None:
            found: dict[str, Any] = await self.api.get(
                f"/v1/financing-requests/{request_id}", exporter
            )
            return found if found["status"] == "closed" else None

        request = await self.until("the request closed", closed)
        self.say(
            f"The exporters service hears of it: the request is [bold]{request['status']}[/bold]."
        )
        notes = await self.api.get("/v1/notifications", exporter, params={"limit": 50})
        about = [n for n in notes["items"] if n["data"].get("request_id") == request_id]
        if about:
            told = Text("What the exporter was told of this request, newest first:")
            for note in about:
                told.append(f"\n  {note['kind']}: {note['message']}")
            self.console.print(told)
        return Outcome(
            request_id=request_id,
            referral_id=str(referral["id"]),
            status=str(request["status"]),
            all_in_cost_pct=accepted["offer"]["all_in_cost_pct"],
        )


async def walkthrough(api: DemoApi, data: DemoData, console: Console) -> Outcome:
    return await Walk(api, data, console).run()


__all__ = ["DONE", "STEPS", "Outcome", "Walk", "WalkthroughError", "walkthrough"]
