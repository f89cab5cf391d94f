"""The `tasdir` commands without infrastructure: what they accept, how they fail, and the outbox
and inbox operations on a service's SQLite database (`TASDIR_<SERVICE>_DATABASE_URL`).

The same operations on PostgreSQL and RabbitMQ, as processes, are in
tests/integration/test_operations.py."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from exporters.bootstrap import definition as exporters
from matching.bootstrap import definition as matching
from sqlmodel import col, select
from support.cli import outbox_row
from support.events import exporter_event
from tasdir.contracts import events
from tasdir.messaging import InProcessBus
from tasdir.service import ServiceDefinition, ServiceRuntime
from tasdir.settings import Settings
from tasdir_cli import operations
from tasdir_cli.main import app
from typer.testing import CliRunner, Result

UNKNOWN = "unknown service 'gateway'; choose one of exporters, credit_products, matching"


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def development(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The development environment, and the root logger as it was: a command configures
    logging onto the stream the runner captures, which is closed after the command."""
    for name in list(os.environ):
        if name.startswith("TASDIR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "development")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def tasdir(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_the_tool_lists_its_commands() -> None:
    result = tasdir("--help")
    assert result.exit_code == 0
    for command in ("run", "stack", "token", "dlq", "outbox", "inbox"):
        assert f"  {command} " in result.stdout
    for group, commands in {
        "dlq": ("list", "show", "replay", "discard"),
        "outbox": ("parked", "retry", "republish"),
        "inbox": ("forget",),
    }.items():
        listed = tasdir(group, "--help").stdout
        assert all(f"  {command} " in listed for command in commands), listed


@pytest.mark.parametrize(
    "args",
    [
        ["dlq", "list", "gateway"],
        ["dlq", "show", "gateway", "m-1"],
        ["dlq", "replay", "gateway", "--all"],
        ["dlq", "discard", "gateway", "m-1"],
        ["outbox", "parked", "gateway"],
        ["outbox", "retry", "gateway", "--all"],
        ["outbox", "republish", "gateway"],
        ["outbox", "republish", "exporters", "--to-service", "gateway"],
        ["inbox", "forget", "gateway", "--type", "#"],
    ],
)
def test_a_service_that_does_not_exist_is_a_usage_error(args: list[str]) -> None:
    result = tasdir(*args)
    assert result.exit_code == 2
    assert UNKNOWN in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dlq", "replay", "matching"], "replay needs a MESSAGE_ID or --all"),
        (["dlq", "discard", "matching", "m-1", "--all"], "not both"),
        (["dlq", "show", "matching"], "MESSAGE_ID"),
        (["outbox", "retry", "exporters"], "give the EVENT_IDs to retry, or --all"),
        (["outbox", "retry", "exporters", "e-1", "--all"], "not both"),
        (["inbox", "forget", "matching"], "--type"),
    ],
)
def test_a_command_missing_what_it_acts_on_is_a_usage_error(args: list[str], message: str) -> None:
    result = tasdir(*args)
    assert result.exit_code == 2
    assert message in result.stderr


COMMANDS = [
    ["run", "--port", str(unused_port())],
    ["stack"],
    ["token", "--role", "admin"],
    ["dlq", "list", "matching"],
    ["dlq", "replay", "matching", "--all"],
    ["outbox", "parked", "exporters"],
    ["outbox", "retry", "exporters", "--all"],
    ["outbox", "republish", "exporters"],
    ["inbox", "forget", "matching", "--type", "#"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_production_without_a_secret_ends_with_exit_2_and_what_to_set(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "production")
    result = tasdir(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("tasdir: invalid configuration: no token verification")
    assert "TASDIR_JWT_SECRET" in result.stderr
    assert "TASDIR_ENVIRONMENT=development" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_an_invalid_setting_is_named(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASDIR_RELAY_BATCH_SIZE", "0")
    result = tasdir(*args)
    assert result.exit_code == 2, result.output
    assert "tasdir: invalid configuration: TASDIR_RELAY_BATCH_SIZE:" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_a_secret_of_its_own_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASDIR_ENVIRONMENT", "production")
    monkeypatch.setenv("TASDIR_JWT_SECRET", "our-own-production-secret-0123456789")
    assert tasdir("token", "--role", "admin").exit_code == 0


# --- the outbox and the inbox on SQLite ---------------------------------------------------------


def migrated(definition: ServiceDefinition[Any], directory: Path) -> ServiceRuntime[Any]:
    runtime: ServiceRuntime[Any] = ServiceRuntime(
        definition,
        database_url=f"sqlite+aiosqlite:///{directory}/{definition.name}.db",
        transport=InProcessBus(),
        settings=Settings(environment="development"),
    )
    asyncio.run(runtime.migrate())
    return runtime


def add_rows(runtime: ServiceRuntime[Any], *rows: Any) -> None:
    async def add() -> None:
        async with runtime.sessions() as session:
            for row in rows:
                session.add(row)
            await session.commit()
        await runtime.engine.dispose()

    asyncio.run(add())


def outbox(runtime: ServiceRuntime[Any]) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        model = runtime.tables.outbox
        async with runtime.sessions() as session:
            rows = (await session.exec(select(model).order_by(col(model.id)))).all()
        await runtime.engine.dispose()
        return {row.event_id: row for row in rows}

    return asyncio.run(read())


@pytest.fixture
def exporters_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServiceRuntime[Any]:
    runtime = migrated(exporters, tmp_path)
    monkeypatch.setenv("TASDIR_EXPORTERS_DATABASE_URL", runtime.database_url)
    return runtime


def test_parked_lists_the_rows_set_aside_oldest_first_and_retry_brings_them_back(
    exporters_db: ServiceRuntime[Any],
) -> None:
    first, second, sent, pending = (exporter_event(events.ExporterRegistered) for _ in range(4))
    model = exporters_db.tables.outbox
    add_rows(
        exporters_db,
        outbox_row(model, first, parked=True, attempts=9, last_error="unroutable"),
        outbox_row(model, sent, sent=True),
        outbox_row(model, second, parked=True),
        outbox_row(model, pending),
    )

    listed = tasdir("outbox", "parked", "exporters")
    assert listed.exit_code == 0, listed.output
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [line["event_id"] for line in lines] == [str(first.event_id), str(second.event_id)]
    assert lines[0]["type"] == "exporters.exporter.registered.v1"
    assert lines[0]["aggregate_id"] == first.aggregate_id
    assert (lines[0]["attempts"], lines[0]["last_error"]) == (9, "unroutable")
    assert datetime.fromisoformat(lines[0]["parked_at"]).tzinfo is not None
    limited = tasdir("outbox", "parked", "exporters", "--limit", "1").stdout.splitlines()
    assert [json.loads(line)["event_id"] for line in limited] == [str(first.event_id)]

    retried = tasdir("outbox", "retry", "exporters", str(first.event_id))
    assert retried.exit_code == 0, retried.output
    assert "1 parked events of exporters are back in the relay's way" in retried.stdout
    rows = outbox(exporters_db)
    back = rows[str(first.event_id)]
    assert (back.parked_at, back.first_failed_at, back.next_attempt_at) == (None, None, None)
    assert back.attempts == 0 and back.sent_at is None
    assert rows[str(second.event_id)].parked_at is not None
    assert rows[str(sent.event_id)].sent_at is not None

    every = tasdir("outbox", "retry", "exporters", "--all")
    assert every.exit_code == 0, every.output
    assert "1 parked events" in every.stdout
    assert all(row.parked_at is None for row in outbox(exporters_db).values())
    assert tasdir("outbox", "parked", "exporters").stdout == ""


def test_retrying_an_event_that_is_not_parked_says_so_and_exits_1(
    exporters_db: ServiceRuntime[Any],
) -> None:
    parked, sent = exporter_event(), exporter_event()
    model = exporters_db.tables.outbox
    add_rows(
        exporters_db, outbox_row(model, parked, parked=True), outbox_row(model, sent, sent=True)
    )
    result = tasdir("outbox", "retry", "exporters", str(parked.event_id), str(sent.event_id))
    assert result.exit_code == 1
    assert "1 parked events of exporters" in result.stdout
    assert "1 of the 2 given events are not parked in the outbox of exporters" in result.stderr
    assert outbox(exporters_db)[str(sent.event_id)].sent_at is not None


def test_forget_deletes_the_inbox_rows_of_the_matching_types_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = migrated(matching, tmp_path)
    monkeypatch.setenv("TASDIR_MATCHING_DATABASE_URL", runtime.database_url)
    inbox = runtime.tables.inbox
    now = datetime.now(UTC)
    add_rows(
        runtime,
        *(
            inbox(consumer="matching", event_id=f"e-{i}", event_type=kind, processed_at=now)
            for i, kind in enumerate(
                [
                    "exporters.exporter.registered.v1",
                    "exporters.exporter.updated.v1",
                    "credit_products.provider.registered.v1",
                ]
            )
        ),
    )
    result = tasdir("inbox", "forget", "matching", "--type", "exporters.exporter.#")
    assert result.exit_code == 0, result.output
    assert "matching forgot 2 consumed events matching 'exporters.exporter.#'" in result.stdout

    async def left() -> list[str]:
        async with runtime.sessions() as session:
            found = list((await session.exec(select(inbox.event_type))).all())
        await runtime.engine.dispose()
        return found

    assert asyncio.run(left()) == ["credit_products.provider.registered.v1"]


def test_a_service_name_with_a_dash_is_read_with_an_underscore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credit_products.bootstrap import definition as credit_products

    runtime = migrated(credit_products, tmp_path)
    monkeypatch.setenv("TASDIR_CREDIT_PRODUCTS_DATABASE_URL", runtime.database_url)
    result = tasdir("outbox", "parked", "credit-products")
    assert result.exit_code == 0, result.output


# --- dependencies that do not answer ------------------------------------------------------------


def test_an_unreachable_database_is_named_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{unused_port()}/nowhere"
    monkeypatch.setenv("TASDIR_EXPORTERS_DATABASE_URL", url)
    result = tasdir("outbox", "parked", "exporters")
    assert result.exit_code == 1, result.output
    assert "tasdir: the database of exporters" in result.stderr
    assert "TASDIR_EXPORTERS_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_was_never_migrated_is_named_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASDIR_MATCHING_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/m.db")
    result = tasdir("inbox", "forget", "matching", "--type", "#")
    assert result.exit_code == 1, result.output
    assert "tasdir: the database of matching" in result.stderr
    assert "cannot be used" in result.stderr
    assert "Traceback" not in result.stderr


def test_republish_without_a_broker_gives_up_and_names_it(
    exporters_db: ServiceRuntime[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "BROKER_PATIENCE_SECONDS", 0.5)
    monkeypatch.setenv("TASDIR_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{unused_port()}/")
    result = tasdir("outbox", "republish", "exporters")
    assert result.exit_code == 1, result.output
    assert "tasdir: RabbitMQ (TASDIR_AMQP_URL) is unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_dlq_tool_without_a_broker_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASDIR_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{unused_port()}/")
    result = tasdir("dlq", "list", "matching")
    assert result.exit_code == 1, result.output
    assert "tasdir: RabbitMQ (TASDIR_AMQP_URL) is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
