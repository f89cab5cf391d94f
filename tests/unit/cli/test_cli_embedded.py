"""The embedded app (`tasdir run`, `make run`): three services in one app, on SQLite files and
the in-process bus, driven through its HTTP API with httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from matching.adapters.orm import ExporterProjection
from prometheus_client import Gauge
from sqlmodel import select
from support.apps import serving
from support.system import count
from tasdir.auth import TokenVerifier
from tasdir.metrics import OUTBOX_LAG, OUTBOX_PARKED, OUTBOX_PENDING
from tasdir.settings import Settings
from tasdir_cli import embedded
from tasdir_cli.devtoken import dev_identity, dev_token
from tasdir_cli.embedded import (
    EmbeddedSystem,
    banner,
    build_app,
    dev_tokens,
    load_definitions,
    sqlite_url,
)
from tasdir_cli.services import SERVICES, definitions

SETTINGS = Settings(environment="development")
OUTBOX_GAUGES = (OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_PARKED)


def _labelled(gauge: Gauge) -> set[tuple[str, ...]]:
    return {tuple(s.labels.values()) for metric in gauge.collect() for s in metric.samples}


@pytest.fixture(autouse=True)
def outbox_gauges_as_found() -> Iterator[None]:
    """The embedded relays set the outbox gauges of every service in the process-wide registry;
    the services they add are removed again, so that later tests find the registry as it was."""
    before = [_labelled(gauge) for gauge in OUTBOX_GAUGES]
    yield
    for gauge, found in zip(OUTBOX_GAUGES, before, strict=True):
        for labels in _labelled(gauge) - found:
            gauge.remove(*labels)


ICE = "001525678000057"


def bearer(role: str = "exporter", **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(SETTINGS, dev_identity(role, **claims))}"}


async def eventually_projected(system: EmbeddedSystem, org: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await count(system["matching"], ExporterProjection, ExporterProjection.org == org):
        assert asyncio.get_running_loop().time() < deadline, "the exporter never reached matching"
        await asyncio.sleep(0.05)


def test_the_three_services_come_from_the_cli_in_their_order() -> None:
    assert [definition.name for definition in load_definitions()] == list(SERVICES)
    assert list(definitions()) == list(SERVICES)
    assert SERVICES == ("exporters", "credit_products", "matching")


def test_the_library_imports_neither_a_service_nor_fakeredis_nor_the_cli() -> None:
    """Every module of `tasdir` imported in a fresh interpreter leaves the services, fakeredis
    and the command-line tool unloaded: the composition lives in `tasdir_cli` only."""
    code = (
        "import importlib, pkgutil, sys, tasdir\n"
        "for module in pkgutil.walk_packages(tasdir.__path__, 'tasdir.'):\n"
        "    importlib.import_module(module.name)\n"
        "print(sorted({name.split('.')[0] for name in sys.modules}"
        " & {'exporters', 'credit_products', 'matching', 'fakeredis', 'tasdir_cli', 'typer'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_each_service_gets_its_own_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    assert sqlite_url(tmp_path, "matching") == f"sqlite+aiosqlite:///{tmp_path}/matching.db"


async def test_health_and_readiness(tmp_path: Path) -> None:
    app = build_app(tmp_path / "data", SETTINGS)
    async with serving(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) >= {f"{s}.database" for s in SERVICES}
    for service in SERVICES:
        database = tmp_path / "data" / f"{service}.db"
        assert database.exists()
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_the_in_process_redis_is_fakeredis(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS)
    async with serving(app):
        assert await app.state.redis.ping()
        await app.state.redis.set("k", "v")
        assert await app.state.redis.get("k") == b"v"


async def test_a_dev_token_is_accepted_and_no_profile_answers_404_problem(tmp_path: Path) -> None:
    async with serving(build_app(tmp_path, SETTINGS)) as client:
        response = await client.get("/v1/exporters/me", headers=bearer())
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/v1/exporters/me")).status_code == 401


async def test_a_registration_reaches_matching_through_the_in_process_bus(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS)
    system: EmbeddedSystem = app.state.system
    async with serving(app) as client:
        response = await client.post(
            "/v1/exporters",
            json={"legal_name": "Atlas Agrumes SARL", "ice": ICE, "region": "souss-massa"},
            headers=bearer(org="atlas-agrumes"),
        )
        assert response.status_code == 201, response.text
        assert response.json()["org"] == "atlas-agrumes"
        await eventually_projected(system, "atlas-agrumes")
        async with system["matching"].sessions() as session:
            projected = (await session.exec(select(ExporterProjection))).one()
        assert str(projected.id) == response.json()["id"]
        assert projected.region == "souss-massa"
        me = await client.get("/v1/exporters/me", headers=bearer(org="atlas-agrumes"))
        assert me.status_code == 200


async def test_the_data_outlives_a_restart(tmp_path: Path) -> None:
    body = {"legal_name": "Fès Cuir", "ice": ICE, "region": "fes-meknes"}
    async with serving(build_app(tmp_path, SETTINGS)) as client:
        created = await client.post("/v1/exporters", json=body, headers=bearer(org="fes-cuir"))
        assert created.status_code == 201
    async with serving(build_app(tmp_path, SETTINGS)) as client:
        me = await client.get("/v1/exporters/me", headers=bearer(org="fes-cuir"))
        assert me.status_code == 200
        assert me.json()["id"] == created.json()["id"]


async def test_the_lifespan_stops_relays_and_consumers(tmp_path: Path) -> None:
    app = build_app(tmp_path, SETTINGS)
    system: EmbeddedSystem = app.state.system
    async with serving(app):
        assert len(system.relay_tasks) == len(SERVICES)
        assert len(system.subscriptions) == len(SERVICES)
        tasks = list(system.relay_tasks)
        assert not any(task.done() for task in tasks)
    assert all(task.done() for task in tasks)
    assert system.stop.is_set()
    assert not system.bus.is_connected()
    assert system.subscriptions == []


async def test_demo_seeders_run_after_start_with_the_running_system(tmp_path: Path) -> None:
    seen: list[tuple[bool, int]] = []

    async def seed(system: EmbeddedSystem) -> None:
        seen.append((system.bus.is_connected(), len(system.relay_tasks)))

    async with serving(build_app(tmp_path, SETTINGS, seeders=[seed])):
        pass
    assert seen == [(True, len(SERVICES))]


async def test_without_seeders_the_demo_seeders_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def demo(system: EmbeddedSystem) -> None:
        seen.append(str(system.data_dir))

    monkeypatch.setattr(embedded, "DEMO_SEEDERS", (demo,))
    async with serving(build_app(tmp_path, SETTINGS)):
        pass
    assert seen == [str(tmp_path)]


async def test_the_app_runs_the_definitions_it_is_given(tmp_path: Path) -> None:
    only = [definitions()["exporters"]]
    app = build_app(tmp_path, SETTINGS, definitions=only)
    async with serving(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
    assert list(app.state.system.runtimes) == ["exporters"]
    assert not (tmp_path / "matching.db").exists()


async def test_the_banner_names_the_openapi_urls_and_a_working_token_per_role(
    tmp_path: Path,
) -> None:
    tokens = dev_tokens(SETTINGS)
    text = banner("http://127.0.0.1:8100", tmp_path, tokens)
    assert "http://127.0.0.1:8100/docs" in text
    assert "http://127.0.0.1:8100/openapi.json" in text
    assert "tasdir token --role <role>" in text
    assert "make token ROLE=<role>" in text
    verifier = TokenVerifier(SETTINGS)
    principals = {role: await verifier.verify(token) for role, token in tokens.items()}
    assert set(principals) == {"exporter", "provider", "advisor", "admin"}
    assert principals["provider"].provider_id
    assert len(principals["advisor"].regions) == 2
    for token in tokens.values():
        assert f'curl -H "Authorization: Bearer {token}"' in text


async def test_the_openapi_document_covers_the_mounted_prefixes(tmp_path: Path) -> None:
    async with serving(build_app(tmp_path, SETTINGS)) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["info"]["title"] == "Tasdir (embedded)"
    assert "/v1/exporters" in document["paths"]
