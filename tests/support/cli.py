"""The `tasdir` command-line tool as the tests drive it: as a process (`python -m tasdir_cli`,
what `.venv/bin/tasdir` runs) with the test's environment, and the outbox rows its operations
act on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tasdir.contracts import Envelope


def run_tasdir(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`tasdir ARGS…` in a process of its own, with `env` over the test's environment (the
    development environment unless the test's or `env` says otherwise)."""
    return subprocess.run(
        [sys.executable, "-m", "tasdir_cli", *args],
        env={"TASDIR_ENVIRONMENT": "development", **os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tasdir(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    """`tasdir ARGS…`, which must succeed; its stdout."""
    done = run_tasdir(*args, env=env, timeout=timeout)
    assert done.returncode == 0, (
        f"tasdir {' '.join(args)} exited {done.returncode}\n"
        f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    return done.stdout


def outbox_row(
    model: type[Any],
    envelope: Envelope,
    *,
    parked: bool = False,
    sent: bool = False,
    attempts: int = 0,
    last_error: str | None = None,
) -> Any:
    """An outbox row of `model` (a service's `tables.outbox`) carrying `envelope`; `parked` as
    the relay leaves a row that kept failing, `sent` as it leaves one it published."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {}
    if parked:
        values = {
            "attempts": attempts or 7,
            "last_error": last_error or "unroutable: no queue is bound",
            "first_failed_at": now - timedelta(minutes=15),
            "next_attempt_at": now + timedelta(minutes=1),
            "parked_at": now - timedelta(minutes=5),
        }
    elif sent:
        values = {"sent_at": now - timedelta(minutes=20), "attempts": attempts}
    return model(
        event_id=str(envelope.event_id),
        event_type=envelope.type,
        aggregate_id=envelope.aggregate_id,
        aggregate_version=envelope.aggregate_version,
        correlation_id=envelope.correlation_id,
        body=envelope.model_dump_json(),
        created_at=now - timedelta(minutes=30),
        **values,
    )
