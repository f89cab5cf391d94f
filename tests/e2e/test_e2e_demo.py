"""The demo end to end: `make run` loads the whole demo data set through its API in the
background and prints the demo accounts; `make demo` runs the guided walkthrough against it to
the accepted offer; the `tasdir` commands read what it made; `tasdir demo seed` then finds
everything there and creates nothing.

The full data set (12 providers, 60 products, 200 exporters, 300 requests and their deals)
loads in about a minute on SQLite; the test prints the time it took."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.processes import ROOT, clean_env, free_port, group_alive, wait_for_status, wait_for_text
from tasdir_cli.demo.walkthrough import DONE, STEPS

ACCOUNT = re.compile(r"^  - (exporter|advisor|bank|admin), [^\n]*: (\S+)$", re.MULTILINE)
LOADED = re.compile(r"^Demo data loaded: (.*)\.$", re.MULTILINE)
BANNER_TOKEN = re.compile(r"^  (admin): (\S+)$", re.MULTILINE)


async def _all(client: httpx.AsyncClient, path: str, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = await client.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


def _tasdir(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "tasdir"), *args],
        cwd=ROOT,
        env=clean_env(TASDIR_ENVIRONMENT="development", COLUMNS="160"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.timeout(480)
async def test_make_demo_runs_the_walkthrough_against_make_run_with_the_demo_data(  # type: ignore[no-untyped-def]
    start, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    run = start(
        ["make", "run", f"PORT={port}", f"DATA_DIR={tmp_path / 'data'}"],
        env=clean_env(),
        name="make-run",
    )
    # The port answers at once; the data set loads behind it.
    await wait_for_status(f"{base}/readyz", run, timeout=60)
    ready_in = time.monotonic() - began
    printed = await wait_for_text(run, "The guided demo:", timeout=300, stream="stdout")
    loaded_in = time.monotonic() - began
    loaded = LOADED.search(printed)
    assert loaded, printed[-3000:]
    print(
        f"\nmake run: ready in {ready_in:.0f} s; demo data loaded after {loaded_in:.0f} s: "
        f"{loaded.group(1)}"
    )
    assert "200 exporters" in loaded.group(1) and "300 requests" in loaded.group(1)
    assert "did not load" not in printed and "stopped before" not in printed
    accounts = dict(ACCOUNT.findall(printed))
    assert set(accounts) == {"exporter", "advisor", "bank", "admin"}
    admin = accounts["admin"]

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        assert len(await _all(client, "/v1/providers", admin)) == 12
        assert len(await _all(client, "/v1/products", admin)) == 60
        exporters = await _all(client, "/v1/exporters", admin)
        assert len(exporters) == 200
        assert {e["region"] for e in exporters} == {
            r["code"] for r in await _all(client, "/v1/reference/regions", admin)
        }
        assert sum(1 for e in exporters if e["is_mono_market"]) >= 20
        requests = await _all(client, "/v1/financing-requests", admin)
        assert len(requests) == 300
        statuses = {r["status"] for r in requests}
        assert {"matched", "in_review", "referred", "offered", "closed", "rejected"} <= statuses
        assert len(await _all(client, "/v1/referrals/offers", admin)) >= 10
        # The demo accounts work: the exporter has its profile, the bank its referrals.
        me = await client.get(
            "/v1/exporters/me", headers={"Authorization": f"Bearer {accounts['exporter']}"}
        )
        assert me.status_code == 200 and me.json()["is_mono_market"] is True

    walked_at = time.monotonic()
    demo = subprocess.run(
        ["make", "-s", "demo", f"BASE_URL={base}"],
        cwd=ROOT,
        env=clean_env(COLUMNS="120"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    print(f"make demo: {time.monotonic() - walked_at:.0f} s")
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    for number, title in enumerate(STEPS, start=1):
        assert f"Step {number}. {title}" in demo.stdout
    assert DONE in demo.stdout
    assert "Why not" in demo.stdout and "guarantee bundle" in demo.stdout
    closed = re.search(r"request (\S+) is\s+closed", demo.stdout)
    assert closed, demo.stdout[-2000:]
    request_id = closed.group(1)

    shown = _tasdir("match-sets", "show", request_id, "--base-url", base, "--lang", "fr")
    assert shown.returncode == 0, shown.stderr
    for part in ("Matches, best first", "Why not", "Audit trail", "approved", "bundled"):
        assert part in shown.stdout, shown.stdout[-3000:]
    listed = _tasdir("requests", "list", "--base-url", base, "--status", "closed", "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    assert request_id in listed.stdout
    reference = _tasdir(
        "reference", "show", "instruments", "--base-url", base, "--role", "exporter"
    )
    assert reference.returncode == 0, reference.stderr
    assert "lc_confirmation" in reference.stdout and "UCP 600" in reference.stdout

    # Seeding again through the CLI finds the whole data set there, and creates nothing.
    seeded_at = time.monotonic()
    again = _tasdir("demo", "seed", "--base-url", base)
    print(f"tasdir demo seed, a second time: {time.monotonic() - seeded_at:.0f} s")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "nothing new" in again.stdout, again.stdout[-3000:]
    assert "200 exporters" in again.stdout and "300 requests" in again.stdout
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        assert len(await _all(client, "/v1/exporters", admin)) == 200
        assert len(await _all(client, "/v1/financing-requests", admin)) == 301

    run.interrupt(timeout=30)
    deadline = time.monotonic() + 15
    while group_alive(run.pid) and time.monotonic() < deadline:
        run.process.poll()
        time.sleep(0.1)
    assert not group_alive(run.pid), "make run left a process behind"
    print(f"the whole test: {time.monotonic() - began:.0f} s")
