"""The stack supervisor's parts that need no infrastructure: ports, preflight, HTTP probe, and
stopping children that ignore SIGTERM."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
from tasdir.settings import Settings
from tasdir.stack import (
    Child,
    StackError,
    _ports,
    _spawn,
    check_dependencies,
    http_status,
    stop_all,
)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ports_follow_the_base_port_and_can_be_overridden() -> None:
    assert _ports(8001, []) == {"exporters": 8001, "credit_products": 8002, "matching": 8003}
    assert _ports(8001, ["matching=9000"])["matching"] == 9000
    with pytest.raises(ValueError, match="SERVICE=PORT"):
        _ports(8001, ["gateway=9000"])
    with pytest.raises(ValueError, match="two services on one port"):
        _ports(8001, ["matching=8001"])


async def test_the_preflight_names_the_dependency_that_does_not_answer() -> None:
    port = unused_port()
    settings = Settings(
        environment="test",
        amqp_url=f"amqp://guest:guest@127.0.0.1:{port}/",
        redis_url=f"redis://127.0.0.1:{port}/0",
        postgres_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}",
    )
    with pytest.raises(StackError) as failed:
        await check_dependencies(settings, connect_timeout=1)
    message = str(failed.value)
    assert "RabbitMQ (TASDIR_AMQP_URL)" in message
    assert "Redis (TASDIR_REDIS_URL)" in message
    assert f"PostgreSQL of exporters at 127.0.0.1:{port}" in message


async def test_the_probe_reads_the_status_code() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await http_status("127.0.0.1", port, "/readyz") == 503
    assert await http_status("127.0.0.1", unused_port(), "/readyz") is None


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    polite = "import time; print('up', flush=True); time.sleep(60)"
    children = [
        Child("demo", "stubborn", [sys.executable, "-c", stubborn]),
        Child("demo", "polite", [sys.executable, "-c", polite]),
    ]
    for child in children:
        await _spawn(child, tmp_path)
    await asyncio.sleep(1.0)  # let both install their signal handlers
    await asyncio.wait_for(stop_all(children, grace=1.0), timeout=20)
    assert all(not child.alive for child in children)
    assert children[1].proc is not None and children[1].proc.returncode == -15
    assert children[0].proc is not None and children[0].proc.returncode == -9
    assert (tmp_path / "demo-polite.log").read_text() == "up\n"
