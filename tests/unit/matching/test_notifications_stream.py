"""Stream tickets and the server-sent event stream, on the embedded app with fakeredis, served by
a real uvicorn (tests/support/streams.py).

Most tests run matching without its background jobs and call the dispatcher themselves
(`dispatch_once`), so that each one decides when a notification is announced; the last one runs
the embedded system as `make run` does, dispatcher included."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import fakeredis
import httpx
import pytest
from fastapi import FastAPI
from matching.bootstrap import definition as matching
from matching.config import get_matching_settings
from matching.service_layer.dispatch import channel, dispatch_once
from matching.service_layer.notifications import KINDS, notify
from support.apps import serving
from support.infra import eventually
from support.streams import EventReader, open_stream, uvicorn_serving
from support.tokens import bearer
from tasdir.contracts.base import utcnow
from tasdir.errors import PROBLEM_JSON
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings
from tasdir_cli.embedded import EmbeddedSystem, build_app

SETTINGS = Settings(environment="development", rate_limit_per_minute=0, redis_prefix="t:")
EXPORTER = bearer(SETTINGS, "exporter", org="atlas")
ADMIN = bearer(SETTINGS, "admin")
CHANNEL = channel(SETTINGS)
QUIET = dataclasses.replace(matching, background=())


@pytest.fixture(autouse=True)
def matching_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An hour between heartbeats unless a test says otherwise: a test that sees an event
    before a heartbeat saw the announcement work, not the heartbeat's read."""
    monkeypatch.setenv("TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS", "300")
    monkeypatch.setenv("TASDIR_MATCHING_DISPATCH_INTERVAL_SECONDS", "0.05")
    get_matching_settings.cache_clear()
    yield
    get_matching_settings.cache_clear()


@dataclass
class Live:
    app: FastAPI
    client: httpx.AsyncClient
    base_url: str

    @property
    def system(self) -> EmbeddedSystem:
        system: EmbeddedSystem = self.app.state.system
        return system

    @property
    def matching(self) -> ServiceRuntime[Any]:
        return self.system["matching"]

    async def notify(self, audience: str, kind: str = "match_set.ready", **data: Any) -> int:
        """Store one notification as a handler would (in a unit of work); its id."""
        cause = uuid4().hex
        async with self.matching.uow() as uow:
            assert await notify(uow, [audience], kind, dict(data), cause=cause, now=utcnow())
            await uow.commit()
        async with self.matching.uow() as uow:
            stored = await uow.notifications.after([audience], 0, 1000)
            (found,) = [n.id for n in stored if n.dedupe_key.startswith(cause)]
        assert found is not None
        return found

    async def dispatch(self) -> int:
        return await dispatch_once(self.matching, self.system.redis, channel=CHANNEL)

    async def ticket(self, headers: dict[str, str] = EXPORTER) -> str:
        response = await self.client.post("/v1/notifications/stream-ticket", headers=headers)
        assert response.status_code == 201, response.text
        found: str = response.json()["ticket"]
        return found

    async def stream_url(self, headers: dict[str, str] = EXPORTER, **params: str) -> str:
        params = {"ticket": await self.ticket(headers), **params}
        return "/v1/notifications/stream?" + "&".join(f"{k}={v}" for k, v in params.items())


async def live_app(tmp_path: Path, definition: Any = QUIET) -> AsyncIterator[Live]:
    app = build_app(tmp_path, SETTINGS, seeders=[], definitions=[definition])
    async with (
        uvicorn_serving(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        yield Live(app, client, base_url)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for found in live_app(tmp_path):
        yield found


def is_problem(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == f"https://tasdir.dev/problems/{kind}"


# --- tickets ---------------------------------------------------------------------------------


async def test_a_ticket_is_random_short_lived_and_stored_only_as_a_digest(live: Live) -> None:
    response = await live.client.post("/v1/notifications/stream-ticket", headers=EXPORTER)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"ticket", "expires_at", "stream_url"}
    assert body["stream_url"] == f"/v1/notifications/stream?ticket={body['ticket']}"
    assert body["ticket"] != await live.ticket()
    keys = [key async for key in live.system.redis.scan_iter("t:stream-ticket:*")]
    assert len(keys) == 2
    assert all(body["ticket"] not in key.decode() for key in keys)
    for key in keys:
        assert 0 < await live.system.redis.ttl(key) <= 60


async def test_a_ticket_needs_a_token(live: Live) -> None:
    response = await live.client.post("/v1/notifications/stream-ticket")
    is_problem(response, 401, "missing-token")


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("", "missing-ticket"),
        ("?ticket=", "missing-ticket"),
        ("?ticket=not-a-ticket", "invalid-ticket"),
        ("?ticket=" + "x" * 500, "invalid-ticket"),
    ],
    ids=["missing", "empty", "garbage", "too-long"],
)
async def test_no_valid_ticket_is_a_401_before_any_stream(
    live: Live, query: str, kind: str
) -> None:
    # A bearer token is no ticket: the stream reads the ticket alone.
    response = await live.client.get(f"/v1/notifications/stream{query}", headers=ADMIN)
    is_problem(response, 401, kind)


async def test_an_expired_ticket_is_a_401(live: Live) -> None:
    url = await live.stream_url()
    (key,) = [key async for key in live.system.redis.scan_iter("t:stream-ticket:*")]
    await live.system.redis.expire(key, 0)  # its time is up
    is_problem(await live.client.get(url), 401, "invalid-ticket")


async def test_a_ticket_opens_one_stream_only(live: Live) -> None:
    url = await live.stream_url()
    async with open_stream(live.client, url):
        is_problem(await live.client.get(url), 401, "invalid-ticket")


async def test_a_bad_last_event_id_is_a_422_that_leaves_the_ticket_unused(live: Live) -> None:
    url = await live.stream_url()
    response = await live.client.get(url, headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"
    is_problem(await live.client.get(url + "&last_event_id=-1"), 422, "validation-error")
    async with open_stream(live.client, url):
        pass


async def test_without_redis_tickets_and_streams_are_503(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS, seeders=[], definitions=[QUIET])
    async with serving(app) as client:
        app.state.redis = None
        response = await client.post("/v1/notifications/stream-ticket", headers=EXPORTER)
        is_problem(response, 503, "stream-unavailable")
        assert response.headers["retry-after"] == "5"
        response = await client.get("/v1/notifications/stream?ticket=abc")
        is_problem(response, 503, "stream-unavailable")


async def test_with_redis_down_tickets_and_streams_are_503(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS, seeders=[], definitions=[QUIET])
    async with serving(app) as client:
        app.state.redis = fakeredis.FakeAsyncRedis(connected=False)
        response = await client.post("/v1/notifications/stream-ticket", headers=EXPORTER)
        is_problem(response, 503, "stream-unavailable")
        response = await client.get("/v1/notifications/stream?ticket=abc")
        is_problem(response, 503, "stream-unavailable")


# --- the stream ------------------------------------------------------------------------------


async def test_the_stream_sends_the_principals_notifications_as_they_come(live: Live) -> None:
    before = await live.notify("org:atlas")  # before the stream: not sent
    await live.dispatch()
    async with open_stream(live.client, await live.stream_url()) as reader:
        others = await live.notify("org:fes-cuir")
        mine = await live.notify("org:atlas", "offer.expired", referral_id="r-1")
        assert await live.dispatch() == 2
        event = await reader.next_event()
        assert (event.id, event.event) == (str(mine), "offer.expired")
        item = event.json()
        assert item == {
            "id": mine,
            "kind": "offer.expired",
            "message": KINDS["offer.expired"],
            "data": {"referral_id": "r-1"},
            "audience": "org:atlas",
            "created_at": item["created_at"],
        }
        later = await live.notify("org:atlas")
        await live.dispatch()
        assert (await reader.next_event()).id == str(later)
    assert before < others < mine < later


async def test_an_admin_streams_every_audience(live: Live) -> None:
    async with open_stream(live.client, await live.stream_url(ADMIN)) as reader:
        ids = [await live.notify(a) for a in ("org:atlas", "provider:p-1", "region:oriental")]
        await live.dispatch()
        assert [int((await reader.next_event()).id or 0) for _ in ids] == ids


async def test_an_advisor_streams_its_regions_only(live: Live) -> None:
    advisor = bearer(SETTINGS, "advisor", regions=["oriental"])
    async with open_stream(live.client, await live.stream_url(advisor)) as reader:
        await live.notify("region:souss-massa")
        mine = await live.notify("region:oriental", "match_set.proposed")
        await live.dispatch()
        event = await reader.next_event()
        assert (event.id, event.event) == (str(mine), "match_set.proposed")


async def test_last_event_id_resumes_after_it(live: Live) -> None:
    first, second, third = [await live.notify("org:atlas", n=n) for n in range(3)]
    await live.dispatch()
    headers = {"Last-Event-ID": str(first)}
    async with open_stream(live.client, await live.stream_url(), headers) as reader:
        assert [(await reader.next_event()).id for _ in range(2)] == [str(second), str(third)]
        fourth = await live.notify("org:atlas")
        await live.dispatch()
        assert (await reader.next_event()).id == str(fourth)
    # The query parameter, for a new EventSource; the header wins over it.
    url = await live.stream_url(last_event_id=str(second))
    async with open_stream(live.client, url) as reader:
        assert (await reader.next_event()).id == str(third)
    url = await live.stream_url(last_event_id=str(first))
    async with open_stream(live.client, url, {"Last-Event-ID": str(third)}) as reader:
        assert (await reader.next_event()).id == str(fourth)


async def test_a_heartbeat_comes_and_reads_what_no_announcement_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASDIR_MATCHING_STREAM_HEARTBEAT_SECONDS", "0.05")
    get_matching_settings.cache_clear()
    async for live in live_app(tmp_path):
        async with open_stream(live.client, await live.stream_url()) as reader:
            assert (await reader.next_comment()).comment == "heartbeat"
            mine = await live.notify("org:atlas")
            # Published on a channel no stream hears: only the heartbeat's read finds it.
            assert await dispatch_once(live.matching, live.system.redis, channel="elsewhere") == 1
            assert (await reader.next_event()).id == str(mine)


async def test_a_closed_stream_unsubscribes(live: Live) -> None:
    async with open_stream(live.client, await live.stream_url()) as reader:
        assert isinstance(reader, EventReader)
        [(_, subscribers)] = await live.system.redis.pubsub_numsub(CHANNEL)
        assert subscribers == 1

    async def unsubscribed() -> bool:
        [(_, subscribers)] = await live.system.redis.pubsub_numsub(CHANNEL)
        return subscribers == 0

    await eventually(unsubscribed, timeout=30)


async def test_the_embedded_system_dispatches_by_itself(tmp_path: Path) -> None:
    """As `make run` runs it: the dispatcher job announces, no test calls it."""
    async for live in live_app(tmp_path, matching):
        async with open_stream(live.client, await live.stream_url()) as reader:
            mine = await live.notify("org:atlas", "consent.granted")
            event = await reader.next_event()
            assert (event.id, event.event) == (str(mine), "consent.granted")
