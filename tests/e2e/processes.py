"""Processes of the end-to-end tests: each in a session of its own, so that it can always be
stopped with everything it started."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without make's recursion variables nor TASDIR_* settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAKE", "MFLAGS", "TASDIR_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent has not reaped it yet.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return status != "Z"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Started:
    """A process the test started, its output in files."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def describe(self) -> str:
        return f"stdout:\n{self.out()[-4000:]}\nstderr:\n{self.err()[-8000:]}"

    def interrupt(self, timeout: float) -> int | None:
        """Ctrl-C: SIGINT to the process group it leads (as a terminal sends it); its exit code,
        or None if it is still running after `timeout`."""
        if self.exited():
            return self.process.returncode
        os.killpg(self.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL, to the whole session the process leads."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not group_alive(self.pid):
                break
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.process.poll()  # reap our own child, or its zombie keeps the group
                if not group_alive(self.pid):
                    break
                time.sleep(0.1)
        if self.process.poll() is None:
            self.process.wait(timeout=5)


async def wait_for_status(
    url: str, watched: Started, *, status: int = 200, timeout: float = 60.0, **kwargs: object
) -> httpx.Response:
    """Poll `url` until it answers `status`; fail early if `watched` exits."""
    deadline = time.monotonic() + timeout
    last: object = None
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            if watched.exited():
                pytest.fail(
                    f"the process exited ({watched.process.returncode}) before {url} answered\n"
                    + watched.describe()
                )
            try:
                response = await client.get(url, **kwargs)  # type: ignore[arg-type]
                if response.status_code == status:
                    return response
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = exc
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{url} did not answer {status} within {timeout:.0f}s (last: {last})\n"
                    + watched.describe()
                )
            await asyncio.sleep(0.25)


async def wait_for_text(watched: Started, needle: str, *, timeout: float, stream: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = watched.out() if stream == "stdout" else watched.err()
        if needle in text:
            return text
        if watched.exited() or time.monotonic() > deadline:
            pytest.fail(f"{needle!r} never appeared on {stream}\n" + watched.describe())
        await asyncio.sleep(0.25)
