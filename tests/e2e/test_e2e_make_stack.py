"""`tasdir stack` (`make stack`): nine processes on real RabbitMQ, Redis and PostgreSQL. One
registration goes from the exporters API, through its relay and the broker, into matching's
projection, and its correlation id shows in both services' logs. A product published after a
request re-matches it by itself, within seconds. Ctrl-C stops every process and
exits 0."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx
import pytest
from e2e.processes import Started, clean_env, free_port, pid_alive, wait_for_status, wait_for_text
from support import infra
from tasdir.settings import Settings
from tasdir_cli.devtoken import dev_identity, dev_token
from tasdir_cli.services import SERVICES

STARTED = re.compile(r"^stack \| (\w+)\.(\w+) started \(pid (\d+)\)$", re.MULTILINE)


def log_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


async def projected_org(dsn: str, exporter_id: str) -> str | None:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(  # type: ignore[no-any-return]
            "SELECT org FROM exporter_projection WHERE id = $1", exporter_id
        )
    finally:
        await connection.close()


def _bearer(role: str, **claims: str) -> dict[str, str]:
    token = dev_token(Settings(environment="development"), dev_identity(role, **claims))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


async def published_after_the_request_re_matches(
    ports: dict[str, int], exporter_token: str, stack: Started
) -> float:
    """The exporter submits a request, and matching proposes a set with no match; then a bank
    publishes a product that fits. Answers how long the set took to list it."""
    exporter = {"Authorization": f"Bearer {exporter_token}"}
    base = "http://127.0.0.1"
    async with httpx.AsyncClient(timeout=10) as client:
        submitted = await client.post(
            f"{base}:{ports['exporters']}/v1/financing-requests",
            json={
                "instrument": "pre_shipment",
                "amount": "1000000",
                "currency": "MAD",
                "tenor_days": 180,
                "destination": "SN",
                "hs_codes": ["0804"],
                "purpose": "new_contract",
                "payment_terms": "lc",
            },
            headers=exporter,
        )
        assert submitted.status_code == 201, submitted.text + stack.describe()
        match_set_url = f"{base}:{ports['matching']}/v1/match-sets/{submitted.json()['id']}"

        async def match_set() -> dict[str, object] | None:
            response = await client.get(match_set_url, headers=exporter)
            return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

        deadline = time.monotonic() + 30
        while (proposed := await match_set()) is None:
            assert time.monotonic() < deadline, "no match set proposed\n" + stack.describe()
            await asyncio.sleep(0.2)
        assert proposed["matches"] == [] and proposed["version"] == 1

        products = f"{base}:{ports['credit_products']}/v1"
        provider = await client.post(
            f"{products}/providers",
            json={"name": "Banque E2E", "kind": "bank", "country": "MA"},
            headers=_bearer("admin"),
        )
        assert provider.status_code == 201, provider.text
        bank = _bearer("provider", provider_id=provider.json()["id"])
        draft = await client.post(
            f"{products}/products",
            json={
                "name": {"fr": "Préfinancement dattes", "en": "Dates pre-export loan"},
                "description": {"fr": "-", "en": "-"},
                "instrument": "pre_export_finance",
                "currencies": ["MAD"],
                "amount_currency": "MAD",
                "amount_max": "5000000",
                "eligibility": {"destinations_include": ["afcfta"]},
                "pricing": {"indicative_rate_pct": 6.0},
            },
            headers=bank,
        )
        assert draft.status_code == 201, draft.text
        published_at = time.monotonic()
        published = await client.post(
            f"{products}/products/{draft.json()['id']}/publish", headers=bank
        )
        assert published.status_code == 200, published.text
        while True:
            current = await match_set()
            assert current is not None
            listed = [m["product_id"] for m in current["matches"]]  # type: ignore[attr-defined]
            if listed == [draft.json()["id"]]:
                assert current["version"] == 2
                return time.monotonic() - published_at
            assert time.monotonic() < published_at + 60, "never re-matched\n" + stack.describe()
            await asyncio.sleep(0.1)


async def test_make_stack_carries_an_event_across_processes(  # type: ignore[no-untyped-def]
    start, tmp_path: Path, own_infrastructure: dict[str, str]
) -> None:
    ports = {service: free_port() for service in SERVICES}
    log_dir = tmp_path / "logs"
    argv = [str(Path(sys.executable).parent / "tasdir"), "stack", "--log-dir", str(log_dir)]
    argv += [f"--port={service}={port}" for service, port in ports.items()]
    # As `make stack` runs it: the development configuration, passed on to every child.
    env = clean_env(TASDIR_ENVIRONMENT="development", **own_infrastructure)
    stack: Started = start(argv, env=env, name="stack")

    await wait_for_text(stack, "Press Ctrl-C to stop.", timeout=150, stream="stdout")
    for service, port in ports.items():
        assert f"{service}: http://127.0.0.1:{port}" in stack.out()
        await wait_for_status(f"http://127.0.0.1:{port}/readyz", stack, timeout=10)
    children = {(m[0], m[1]): int(m[2]) for m in STARTED.findall(stack.err())}
    assert {process for _service, process in children} >= {"api", "consumer", "relay"}
    assert len([key for key in children if key[1] != "migrate"]) == 9

    correlation_id = str(uuid4())
    exporter = dev_identity("exporter", org="e2e-dattes")
    token = dev_token(Settings(environment="development"), exporter)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['exporters']}") as client:
        created = await client.post(
            "/v1/exporters",
            json={"legal_name": "E2E Dattes SARL", "ice": "003344556677889", "region": "oriental"},
            headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation_id},
            timeout=10,
        )
    assert created.status_code == 201, created.text + stack.describe()
    assert created.headers["x-correlation-id"] == correlation_id
    exporter_id = created.json()["id"]

    admin_dsn = infra.PG_ADMIN_DSN.rsplit("/", 1)[0]
    matching_dsn = f"{admin_dsn}/{own_infrastructure['TASDIR_DATABASE_PREFIX']}matching"
    deadline = time.monotonic() + 30
    while (org := await projected_org(matching_dsn, exporter_id)) is None:
        assert time.monotonic() < deadline, "the exporter never reached matching\n" + (
            stack.describe()
        )
        await asyncio.sleep(0.2)
    assert org == "e2e-dattes"

    # A product published after a request re-matches it by itself, within seconds.
    elapsed = await published_after_the_request_re_matches(ports, token, stack)
    assert elapsed < 30, f"re-matched only after {elapsed:.1f}s"

    # The relay and the consumer serve their own /metrics beside their service's API port.
    async with httpx.AsyncClient() as client:
        relay = await client.get(f"http://127.0.0.1:{ports['exporters'] + 100}/metrics")
        consumer = await client.get(f"http://127.0.0.1:{ports['matching'] + 200}/metrics")
    registered = 'event_type="exporters.exporter.registered.v1"'
    assert any(
        line.startswith("tasdir_events_published_total") and registered in line
        for line in relay.text.splitlines()
    ), relay.text[-2000:]
    assert any(
        line.startswith("tasdir_events_consumed_total") and registered in line
        for line in consumer.text.splitlines()
    ), consumer.text[-2000:]

    exit_code = stack.interrupt(timeout=45)
    assert exit_code == 0, stack.describe()
    assert "every process has stopped" in stack.err()
    left = [f"{s}.{p} ({pid})" for (s, p), pid in children.items() if pid_alive(pid)]
    assert not left, f"still running after the stack stopped: {left}"

    def mentions(service_process: str) -> bool:
        path = log_dir / f"{service_process}.log"
        return any(line.get("correlation_id") == correlation_id for line in log_lines(path))

    # Checked once every process has stopped and flushed its log.
    if not (mentions("exporters-api") and mentions("matching-consumer")):
        pytest.fail(
            f"correlation id {correlation_id} missing: exporters api log "
            f"{mentions('exporters-api')}, matching consumer log "
            f"{mentions('matching-consumer')}\n" + stack.describe()
        )
