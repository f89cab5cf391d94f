"""The `start` fixture: processes the test starts, all stopped afterwards, even on failure; and
`own_infrastructure`, a stack's own vhost, databases and Redis prefix."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from e2e.processes import ROOT, Started
from support import infra
from tasdir_cli.services import SERVICES


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """`start(argv, env=..., name=...)` runs a process in a new session; all are stopped after."""
    started: list[Started] = []

    def run(argv: Sequence[str], *, env: dict[str, str], name: str) -> Started:
        stdout, stderr = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        handle = Started(process, stdout, stderr)
        started.append(handle)
        return handle

    yield run
    for handle in started:
        handle.kill_group()


@pytest.fixture
async def own_infrastructure() -> AsyncIterator[dict[str, str]]:
    """A vhost, a database prefix and a Redis prefix of this test's own; removed afterwards."""
    redis = urlsplit(infra.REDIS_URL)
    infra.require("Redis", redis.hostname or "127.0.0.1", redis.port or 6379)
    infra.require("PostgreSQL", "127.0.0.1", 5432)
    vhost, amqp_url = infra.create_vhost()
    prefix = f"{infra.unique_name('stack')}_"
    try:
        yield {
            "TASDIR_AMQP_URL": amqp_url,
            "TASDIR_REDIS_URL": infra.REDIS_URL,
            "TASDIR_REDIS_PREFIX": f"{prefix}:",
            "TASDIR_POSTGRES_URL": infra.PG_URL,
            "TASDIR_DATABASE_PREFIX": prefix,
        }
    finally:
        for service in SERVICES:
            await infra.drop_database(f"{prefix}{service}")
        infra.delete_vhost(vhost)
