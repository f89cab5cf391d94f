"""The `start` fixture: processes the test starts, all stopped afterwards, even on failure."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from e2e.processes import ROOT, Started


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
