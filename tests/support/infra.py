"""Real infrastructure for the integration tests, isolated per run and per test.

Each test gets its own RabbitMQ vhost and its own PostgreSQL databases, and Redis keys under a
unique prefix; all are removed afterwards, because the services outlive the run. Under
`CI=true` an unreachable service fails the test; elsewhere it skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

RUN_ID = uuid4().hex[:8]
_counter = itertools.count(1)

RABBIT_HOST = os.environ.get("TASDIR_TEST_RABBIT_HOST", "127.0.0.1")
PG_ADMIN_DSN = os.environ.get("TASDIR_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL = os.environ.get("TASDIR_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TASDIR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if port_open(host, port):
        return
    message = f"{name} is unreachable on {host}:{port}"
    if in_ci():
        pytest.fail(f"{message}; integration tests must not skip under CI=true")
    pytest.skip(message)


def unique_name(kind: str) -> str:
    return f"tasdir_test_{RUN_ID}_{next(_counter)}_{kind}"


RABBITMQCTL_MISSING = (
    "rabbitmqctl is not on PATH: the integration tests need it to give each test a RabbitMQ "
    "vhost of its own (install rabbitmq-server, or put its sbin folder on PATH)"
)


def rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail(RABBITMQCTL_MISSING)
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def create_vhost() -> tuple[str, str]:
    require("RabbitMQ", RABBIT_HOST, 5672)
    vhost = unique_name("vhost")
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return vhost, f"amqp://guest:guest@{RABBIT_HOST}:5672/{vhost}"


def delete_vhost(vhost: str) -> None:
    rabbitmqctl("delete_vhost", vhost)


def close_all_connections(vhost: str) -> None:
    rabbitmqctl("close_all_connections", "-p", vhost, "test: cutting every connection")


async def create_database() -> tuple[str, str]:
    require("PostgreSQL", "127.0.0.1", 5432)
    name = unique_name("db")
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, f"{PG_URL}/{name}"


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def eventually(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns something truthy; fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


DatabaseFactory = Callable[[], Awaitable[str]]


@contextlib.asynccontextmanager
async def migrated_runtime(definition: Any, database_url: str) -> AsyncIterator[Any]:
    """A runtime of `definition` on `database_url`, migrated, on an in-process bus; disposed
    of afterwards."""
    from tasdir.messaging.inproc import InProcessBus
    from tasdir.service import ServiceRuntime
    from tasdir.settings import Settings

    runtime: Any = ServiceRuntime(
        definition,
        database_url=database_url,
        transport=InProcessBus(),
        settings=Settings(environment="development"),
    )
    await runtime.migrate()
    try:
        yield runtime
    finally:
        await runtime.dispose()
