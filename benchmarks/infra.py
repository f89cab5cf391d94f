"""Throwaway infrastructure for the benchmarks that need the real thing: a RabbitMQ vhost of
their own (rabbitmqctl), PostgreSQL databases of their own (asyncpg), and Redis keys under a
prefix of their own; each removed afterwards. The same idea as tests/support/infra.py, without
pytest."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from uuid import uuid4

import asyncpg

RUN_ID = uuid4().hex[:8]
RABBIT_HOST = os.environ.get("TASDIR_BENCH_RABBIT_HOST", "127.0.0.1")
PG_ADMIN_DSN = os.environ.get(
    "TASDIR_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_URL = os.environ.get("TASDIR_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TASDIR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class Missing(RuntimeError):
    """Something the benchmark needs is not there; the message says what and how to get it."""


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if not port_open(host, port):
        raise Missing(f"{name} is unreachable on {host}:{port}")


def require_all() -> None:
    require("RabbitMQ", RABBIT_HOST, 5672)
    require("PostgreSQL", "127.0.0.1", 5432)
    require("Redis", "127.0.0.1", 6379)


def unique_name(kind: str) -> str:
    return f"tasdir_bench_{RUN_ID}_{uuid4().hex[:6]}_{kind}"


def rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        raise Missing("rabbitmqctl is not on PATH: it makes the benchmark's own RabbitMQ vhost")
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def create_vhost() -> tuple[str, str]:
    """A new vhost with guest's permissions: (its name, its AMQP URL)."""
    vhost = unique_name("vhost")
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return vhost, f"amqp://guest:guest@{RABBIT_HOST}:5672/{vhost}"


def delete_vhost(vhost: str) -> None:
    rabbitmqctl("delete_vhost", vhost)


async def create_database(name: str | None = None) -> tuple[str, str]:
    """A new PostgreSQL database: (its name, its SQLAlchemy URL)."""
    name = name or unique_name("db")
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


async def delete_redis_prefix(prefix: str) -> int:
    """Delete every Redis key under `prefix`; how many went."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    deleted = 0
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            deleted += int(await client.delete(key))
    finally:
        await client.aclose()
    return deleted
