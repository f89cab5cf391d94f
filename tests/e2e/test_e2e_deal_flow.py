"""The deal flow on `tasdir stack` (`make stack`): nine processes on real RabbitMQ, Redis and
PostgreSQL. A provider publishes; an exporter requests and sees ranked matches with reasons; the
advisor of its region approves; the bank sees an anonymised referral; the exporter consents and
the bank sees who it is; the bank asks, the exporter answers, the bank offers; the exporter
accepts and the request is closed. Each party's notification stream, opened with a stream
ticket at the start, delivers every step as it happens."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from e2e.processes import Started, clean_env, free_port, wait_for_status, wait_for_text
from support import handworked
from support.handworked import ok
from support.infra import eventually
from support.streams import EventReader, open_stream
from support.tokens import bearer
from tasdir.settings import Settings
from tasdir_cli.services import SERVICES

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
ADVISOR = bearer(SETTINGS, "advisor", sub="advisor-souss", regions=("souss-massa",))
PREFIXES = {
    "/v1/exporters": "exporters",
    "/v1/financing-requests": "exporters",
    "/v1/providers": "credit_products",
    "/v1/products": "credit_products",
    "/v1/reference": "credit_products",
    "/v1/match-sets": "matching",
    "/v1/referrals": "matching",
    "/v1/notifications": "matching",
}


class Gateway(httpx.AsyncBaseTransport):
    """Sends each request to the API of the service that serves its path, as the compose
    gateway and the Kubernetes ingress do."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        service = next(s for prefix, s in PREFIXES.items() if path.startswith(prefix))
        request.url = request.url.copy_with(host="127.0.0.1", port=self.ports[service])
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Listener:
    """One party's notification stream, read in the background."""

    def __init__(self, reader: EventReader) -> None:
        self.kinds: list[str] = []
        self.ids: list[int] = []
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: EventReader) -> None:
        while True:
            event = await reader.next()
            if event.comment is None:
                assert event.event is not None and event.id is not None
                self.kinds.append(event.event)
                self.ids.append(int(event.id))

    async def has(self, kind: str, times: int = 1) -> None:
        async def heard() -> bool:
            if self.task.done():
                self.task.result()
            return self.kinds.count(kind) >= times

        await eventually(heard, timeout=60)


async def listen(
    stack: AsyncExitStack, client: httpx.AsyncClient, headers: dict[str, str]
) -> Listener:
    ticket = ok(await client.post("/v1/notifications/stream-ticket", headers=headers), 201)
    url = f"/v1/notifications/stream?ticket={ticket['ticket']}"
    reader = await stack.enter_async_context(open_stream(client, url))
    listener = Listener(reader)
    stack.push_async_callback(_cancel, listener.task)
    return listener


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def offer_terms() -> dict[str, Any]:
    return {
        "amount": "2500000",
        "currency": "MAD",
        "rate_pct": 5.75,
        "tenor_days": 180,
        "fees_pct": 0.4,
        "conditions": "LC confirmed by a first-rank bank.",
        "valid_until": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
        "binding": True,
    }


async def test_a_deal_goes_from_publication_to_acceptance_on_the_stack(  # type: ignore[no-untyped-def]
    start, tmp_path: Path, own_infrastructure: dict[str, str]
) -> None:
    ports = {service: free_port() for service in SERVICES}
    argv = [str(Path(sys.executable).parent / "tasdir"), "stack", "--log-dir", str(tmp_path)]
    argv += [f"--port={service}={port}" for service, port in ports.items()]
    env = clean_env(
        TASDIR_ENVIRONMENT="development",
        TASDIR_RATE_LIMIT_PER_MINUTE="0",
        TASDIR_MATCHING_DISPATCH_INTERVAL_SECONDS="0.2",
        TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS="2",
        **own_infrastructure,
    )
    running: Started = start(argv, env=env, name="stack")
    await wait_for_text(running, "Press Ctrl-C to stop.", timeout=150, stream="stdout")
    for port in ports.values():
        await wait_for_status(f"http://127.0.0.1:{port}/readyz", running, timeout=10)

    gateway = Gateway(ports)
    async with (
        httpx.AsyncClient(transport=gateway, base_url="http://gateway", timeout=30) as client,
        AsyncExitStack() as streams,
    ):
        # The exporter's and the advisor's streams open first: they hear of the set as it comes.
        exporter = bearer(SETTINGS, "exporter", sub="org-souss-user", org="org-souss")
        exporter_stream = await listen(streams, client, exporter)
        advisor_stream = await listen(streams, client, ADVISOR)
        # 1. A provider publishes (the hand-worked catalogue); 2. an exporter requests. The
        # request may reach matching before some products: it is re-matched as they come.
        catalogue = await handworked.build(client, SETTINGS)
        bank_stream = await listen(streams, client, catalogue.bank)
        match_set = await handworked.settled(client, catalogue, timeout=60)
        handworked.check(catalogue, match_set)
        assert all(reason["message"] for m in match_set["matches"] for reason in m["reasons"])
        await exporter_stream.has("match_set.ready")
        await advisor_stream.has("match_set.proposed")

        # 3. The advisor of the region opens the set and approves the eligible match.
        set_url = f"/v1/match-sets/{catalogue.request_id}"
        assert ok(await client.get(set_url, headers=ADVISOR))["status"] == "in_review"
        review = {"decision": "approve", "product_ids": [catalogue.ids["eligible"]]}
        assert (
            ok(await client.post(f"{set_url}/review", json=review, headers=ADVISOR))["status"]
            == "approved"
        )
        await exporter_stream.has("review.approved")

        # 4. The bank sees an anonymised referral.
        await bank_stream.has("referral.received")
        (referral,) = ok(await client.get("/v1/referrals", headers=catalogue.bank))["items"]
        text = json.dumps(referral)
        assert referral["exporter"]["anonymised"] is True
        assert "Agrumes" not in text and "002345678000091" not in text
        url = f"/v1/referrals/{referral['id']}"

        # 5. The exporter consents; the bank sees who it is.
        me = ok(await client.get("/v1/exporters/me", headers=catalogue.exporter))
        consent = {"provider_id": catalogue.bank_id}
        ok(
            await client.post(
                f"/v1/exporters/{me['id']}/consents", json=consent, headers=catalogue.exporter
            ),
            201,
        )
        await bank_stream.has("consent.granted")
        revealed = ok(await client.get(url, headers=catalogue.bank))["exporter"]
        assert revealed["anonymised"] is False
        assert revealed["identity"]["legal_name"] == "Agrumes du Souss SARL"

        # 6. The bank asks, the exporter answers, the bank offers.
        question = {"status": "info_requested", "message": "Please send the draft LC."}
        ok(await client.post(f"{url}/response", json=question, headers=catalogue.bank))
        await exporter_stream.has("referral.answered")
        answer = {"message": "Draft LC attached, issued in Abidjan."}
        ok(await client.post(f"{url}/reply", json=answer, headers=catalogue.exporter))
        await bank_stream.has("referral.replied")
        offer = {"status": "offer", "terms": offer_terms()}
        ok(await client.post(f"{url}/response", json=offer, headers=catalogue.bank))
        await exporter_stream.has("referral.answered", times=2)

        # 7. The exporter accepts; the request is closed.
        offers = ok(await client.get("/v1/referrals/offers", headers=catalogue.exporter))
        assert [o["referral_id"] for o in offers["items"]] == [referral["id"]]
        ok(await client.post(f"{url}/offer/accept", headers=catalogue.exporter))
        await bank_stream.has("offer.accepted")

        async def closed() -> bool:
            request_url = f"/v1/financing-requests/{catalogue.request_id}"
            read = ok(await client.get(request_url, headers=catalogue.exporter))
            return read["status"] == "closed"

        await eventually(closed, timeout=60)

        # 8. The streams delivered each step once, in order.
        for listener in (bank_stream, exporter_stream, advisor_stream):
            assert listener.ids == sorted(set(listener.ids))
        assert bank_stream.kinds == [
            "referral.received",
            "consent.granted",
            "referral.replied",
            "offer.accepted",
        ]
        assert exporter_stream.kinds == [
            "match_set.ready",
            "review.approved",
            "referral.answered",
            "referral.answered",
        ]

    exit_code = running.interrupt(timeout=45)
    assert exit_code == 0, running.describe()
