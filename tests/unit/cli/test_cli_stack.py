"""The stack supervisor (`tasdir stack`) in the parts that need no infrastructure: ports,
preflight, HTTP probe, the children's environment, and stopping children that ignore SIGTERM."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
from tasdir.settings import Settings
from tasdir_cli import stack
from tasdir_cli.main import app
from tasdir_cli.stack import (
    Child,
    StackError,
    _spawn,
    check_dependencies,
    child_env,
    http_status,
    migrate_all,
    service_ports,
    stop_all,
)
from typer.testing import CliRunner


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ports_follow_the_base_port_and_can_be_overridden() -> None:
    assert service_ports(8001, []) == {
        "exporters": 8001,
        "credit_products": 8002,
        "matching": 8003,
    }
    assert service_ports(8001, ["matching=9000"])["matching"] == 9000
    with pytest.raises(ValueError, match="SERVICE=PORT"):
        service_ports(8001, ["gateway=9000"])
    with pytest.raises(ValueError, match="two services on one port"):
        service_ports(8001, ["matching=8001"])
    # The consumers serve /metrics on the API port + 200, which must exist too.
    with pytest.raises(ValueError, match="between 1 and 65335"):
        service_ports(65400, [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "gateway=9000"], "SERVICE=PORT with SERVICE in exporters, credit_products"),
        (["--port", "matching=8001"], "two services on one port"),
        (["--ready-timeout", "0"], "--ready-timeout"),
    ],
)
def test_the_command_rejects_bad_ports_before_starting_anything(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["stack", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "started" not in result.stderr


def test_the_command_refuses_a_configuration_that_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "production")
    monkeypatch.delenv("TASDIR_JWT_SECRET", raising=False)
    monkeypatch.delenv("TASDIR_JWT_JWKS_URL", raising=False)
    result = CliRunner().invoke(app, ["stack"])
    assert result.exit_code == 2
    assert "TASDIR_ENVIRONMENT=development" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_children_run_in_the_environment_of_the_supervisors_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASDIR_AMQP_URL", "amqp://guest:guest@127.0.0.1:5999/")
    monkeypatch.delenv("TASDIR_ENVIRONMENT", raising=False)
    monkeypatch.setenv("TASDIR_METRICS_PORT", "9464")
    env = child_env(Settings(environment="development"))
    assert env["TASDIR_ENVIRONMENT"] == "development"
    assert env["TASDIR_AMQP_URL"] == "amqp://guest:guest@127.0.0.1:5999/"
    assert env["PYTHONUNBUFFERED"] == "1"
    # Each child serves /metrics beside its own port: one shared port would clash.
    assert "TASDIR_METRICS_PORT" not in env


async def test_the_migrations_run_as_each_service_with_the_supervisors_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def argv(service: str, *args: str) -> list[str]:
        code = "import os, sys; print(sys.argv[1], os.environ['TASDIR_ENVIRONMENT'])"
        return [sys.executable, "-c", code, f"{service} {' '.join(args)}"]

    monkeypatch.setattr(stack, "_service_argv", argv)
    await migrate_all(tmp_path, child_env(Settings(environment="development")))
    for service in ("exporters", "credit_products", "matching"):
        log = (tmp_path / f"{service}-migrate.log").read_text()
        assert log == f"{service} migrate development\n"


def test_the_children_are_the_services_own_entry_points() -> None:
    assert stack._service_argv("matching", "relay", "--port", "8103") == [
        sys.executable,
        "-m",
        "matching",
        "relay",
        "--port",
        "8103",
    ]


async def test_the_preflight_names_the_dependency_that_does_not_answer() -> None:
    port = unused_port()
    settings = Settings(
        environment="development",
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
