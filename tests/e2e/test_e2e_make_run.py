"""`make run` (`tasdir run`): the embedded system answers within 60 s, and the tokens it prints
work. Without `TASDIR_ENVIRONMENT` the tool is in production and says what to set."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from e2e.processes import ROOT, clean_env, free_port, group_alive, wait_for_status, wait_for_text

TOKEN_LINE = re.compile(r"^  (exporter|provider|advisor|admin): (\S+)$", re.MULTILINE)


async def test_make_run_is_ready_within_60s_and_accepts_its_tokens(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    data_dir = tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    # No TASDIR_* at all: `make run` runs the development configuration by itself.
    run = start(
        ["make", "run", f"PORT={port}", f"DATA_DIR={data_dir}"], env=clean_env(), name="make-run"
    )

    await wait_for_status(f"{base}/healthz", run, timeout=60)
    await wait_for_status(f"{base}/readyz", run, timeout=60 - (time.monotonic() - began))
    assert time.monotonic() - began < 60

    printed = await wait_for_text(run, "Press Ctrl-C to stop.", timeout=15, stream="stdout")
    assert f"{base}/docs" in printed
    assert f"{base}/openapi.json" in printed
    tokens = dict(TOKEN_LINE.findall(printed))
    assert set(tokens) == {"exporter", "provider", "advisor", "admin"}

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        me = await client.get(
            "/v1/exporters/me", headers={"Authorization": f"Bearer {tokens['exporter']}"}
        )
        assert me.status_code == 404, me.text  # authenticated; no profile yet
        assert me.headers["content-type"].startswith("application/problem+json")
        for role in ("provider", "advisor", "admin"):
            other = await client.get(
                "/v1/exporters/me", headers={"Authorization": f"Bearer {tokens[role]}"}
            )
            assert other.status_code == 403, (role, other.text)  # authenticated, wrong role
        created = await client.post(
            "/v1/exporters",
            json={"legal_name": "Sahara Dattes", "ice": "002233445566778", "region": "oriental"},
            headers={"Authorization": f"Bearer {tokens['exporter']}"},
        )
        assert created.status_code == 201, created.text
    assert (data_dir / "exporters.db").exists()

    run.interrupt(timeout=30)
    deadline = time.monotonic() + 15
    while group_alive(run.pid) and time.monotonic() < deadline:
        run.process.poll()
        time.sleep(0.1)
    assert not group_alive(run.pid), "make run left a process behind"


async def test_tasdir_run_stops_on_ctrl_c_with_exit_0(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    tasdir = str(Path(sys.executable).parent / "tasdir")
    run = start(
        [tasdir, "run", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=clean_env(TASDIR_ENVIRONMENT="development"),
        name="tasdir-run",
    )
    await wait_for_status(f"http://127.0.0.1:{port}/readyz", run, timeout=60)
    await wait_for_text(run, "tasdir token --role <role>", timeout=15, stream="stdout")
    assert run.interrupt(timeout=30) == 0, run.describe()
    assert (tmp_path / "data" / "matching.db").exists()


def test_tasdir_run_without_an_environment_refuses_the_dev_secret(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tasdir"), "run", "--port", str(free_port())],
        cwd=ROOT,
        env=clean_env(DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "TASDIR_ENVIRONMENT=development" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()
