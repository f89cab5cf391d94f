"""Seeding the demo data set through the public API of the embedded app: a second start finds
everything and creates nothing; each request's story ends where it says; the walkthrough
completes on a system without the demo data, and again; `make run`'s background load stops
with the system."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import Gauge
from rich.console import Console
from support.apps import serving
from support.infra import eventually
from support.tokens import bearer
from tasdir.metrics import OUTBOX_LAG, OUTBOX_PARKED, OUTBOX_PENDING
from tasdir.settings import Settings
from tasdir_cli.demo import generate
from tasdir_cli.demo.generator import DemoData
from tasdir_cli.demo.seeder import STORY_STATUS, Seeder
from tasdir_cli.demo.startup import accounts, accounts_text, in_process, seed_now
from tasdir_cli.demo.walkthrough import DONE, STEPS, walkthrough
from tasdir_cli.embedded import EmbeddedSystem, banner, build_app, demo_seeders, dev_tokens

SETTINGS = Settings(environment="development")
OUTBOX_GAUGES = (OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_PARKED)
# The token lines of `make run`'s banner, as tests/e2e/test_e2e_make_run.py reads them.
BANNER_TOKEN = re.compile(r"^  (exporter|provider|advisor|admin): (\S+)$", re.MULTILINE)


def _labelled(gauge: Gauge) -> set[tuple[str, ...]]:
    return {tuple(s.labels.values()) for metric in gauge.collect() for s in metric.samples}


@pytest.fixture(autouse=True)
def outbox_gauges_as_found() -> Iterator[None]:
    """The embedded relays set process-wide gauges; remove the labels they add."""
    before = [_labelled(gauge) for gauge in OUTBOX_GAUGES]
    yield
    for gauge, found in zip(OUTBOX_GAUGES, before, strict=True):
        for labels in _labelled(gauge) - found:
            gauge.remove(*labels)


@pytest.fixture(scope="module")
def sample() -> DemoData:
    return generate().sample()


ADMIN = bearer(SETTINGS, "admin", sub="test-admin")


async def _all(client: Any, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = (await client.get(path, params=params, headers=ADMIN)).json()
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


async def _counts(client: Any) -> Counter[str]:
    return Counter(
        providers=len(await _all(client, "/v1/providers")),
        products=len(await _all(client, "/v1/products")),
        exporters=len(await _all(client, "/v1/exporters")),
        requests=len(await _all(client, "/v1/financing-requests")),
        referrals=len(await _all(client, "/v1/referrals")),
        offers=len(await _all(client, "/v1/referrals/offers")),
    )


async def test_seeding_twice_creates_nothing_the_second_time(
    tmp_path: Path, sample: DemoData
) -> None:
    seeders: list[Seeder] = []

    async def seed(system: EmbeddedSystem) -> None:
        seeders.append(await seed_now(system, sample))

    async with serving(build_app(tmp_path, SETTINGS, seeders=[seed])) as client:
        ids = seeders[0].request_ids
        wanted = {r.story: STORY_STATUS[r.story] for r in sample.requests}

        async def told() -> bool:
            # The exporters service hears of the last steps a moment after they are taken.
            found = {r["id"]: r["status"] for r in await _all(client, "/v1/financing-requests")}
            return {r.story: found[ids[r.key]] for r in sample.requests} == wanted

        await eventually(told, timeout=20)
        first = await _counts(client)
    report = seeders[0].report
    assert report.errors == []
    assert first["providers"] == 12
    assert first["products"] == 60
    assert first["exporters"] == len(sample.exporters)
    assert first["requests"] == len(sample.requests)
    assert report.created["requests"] == len(sample.requests)
    assert first["offers"] == 3  # offer, accepted, offer_declined

    # A second start on the same data finds everything there, and takes no step twice.
    async with serving(build_app(tmp_path, SETTINGS, seeders=[seed])) as client:
        second = await _counts(client)
    again = seeders[1].report
    assert +again.created == Counter(), again.created
    assert again.found["providers"] == 12
    assert again.found["products"] == 60
    assert again.found["exporters"] == len(sample.exporters)
    assert again.found["requests"] == len(sample.requests)
    assert second == first
    assert "nothing new" in again.summary()


async def test_the_walkthrough_completes_on_a_system_without_demo_data_and_again(
    tmp_path: Path,
) -> None:
    """`make run DEMO=0`, then `make demo` twice: it seeds what it needs, then makes a new deal
    each time."""
    data = generate()
    async with serving(build_app(tmp_path, SETTINGS, seeders=[])) as client:
        system: EmbeddedSystem = client._transport.app.state.system  # type: ignore[attr-defined]
        async with in_process(system) as api:
            outcomes = []
            for _ in range(2):
                console = Console(record=True, width=120)
                outcomes.append(await walkthrough(api, data, console))
                printed = console.export_text()
                for number, title in enumerate(STEPS, start=1):
                    assert f"Step {number}. {title}" in printed
                assert DONE in printed
                assert "guarantee bundle" in printed and "Why not" in printed
        assert [o.status for o in outcomes] == ["closed", "closed"]
        assert outcomes[0].request_id != outcomes[1].request_id
        assert outcomes[0].all_in_cost_pct == pytest.approx(6.17)
        counts = await _counts(client)
    assert counts["exporters"] == 1
    assert counts["requests"] == 2
    assert counts["providers"] == 12


async def test_make_runs_background_load_stops_with_the_system(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS, seeders=demo_seeders(True))
    system: EmbeddedSystem = app.state.system
    async with serving(app):
        (task,) = system.seed_tasks
        system.base_url = "http://127.0.0.1:8000"
        system.listening.set()  # as `serve` does once the port listens
        await asyncio.sleep(1.0)
        assert not task.done()
    # It stopped by itself between two calls, as soon as the system stopped.
    assert task.done() and not task.cancelled()
    assert task.exception() is None
    assert system.seed_tasks == []
    assert demo_seeders(False) == []


async def test_without_a_listening_port_the_background_load_never_starts(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS, seeders=demo_seeders(True))
    system: EmbeddedSystem = app.state.system
    async with serving(app) as client:
        (task,) = system.seed_tasks
        await asyncio.sleep(0.2)
        providers = (await client.get("/v1/providers", headers=ADMIN)).json()["items"]
        assert providers == []
    assert task.done() and not task.cancelled()


def test_the_banner_announces_the_demo_data_and_the_accounts_keep_their_own_lines(
    tmp_path: Path,
) -> None:
    text = banner("http://127.0.0.1:8000", tmp_path, dev_tokens(SETTINGS), demo=True)
    assert "DEMO=0" in text
    assert "DEMO=0" not in banner("http://127.0.0.1:8000", tmp_path, dev_tokens(SETTINGS))
    data = generate()

    class Api:
        def token(self, who: object) -> str:
            return f"token-of-{who.sub}"  # type: ignore[attr-defined]

    listed = accounts(data, {"arganier": "8f2d3c1e-5a4b-4c6d-9e8f-0a1b2c3d4e5f"})
    printed = accounts_text(Api(), listed, "http://127.0.0.1:8100")  # type: ignore[arg-type]
    assert [a.role for a in listed] == ["exporter", "advisor", "bank", "admin"]
    assert "make demo BASE_URL=http://127.0.0.1:8100" in printed
    assert "Agrumes Tafoukt SARL" in printed and "Banque de l'Arganier" in printed
    # The banner's own token lines stay the only ones its readers take for them.
    assert BANNER_TOKEN.findall(printed) == []
