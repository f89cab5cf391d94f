"""The real topology as processes (`tasdir stack`, `make stack`): every service as its API, its
event consumer and its outbox relay, against RabbitMQ, Redis and PostgreSQL.

The URLs come from the environment, as for any service process (`TASDIR_AMQP_URL`,
`TASDIR_REDIS_URL`, `TASDIR_POSTGRES_URL` with `TASDIR_DATABASE_PREFIX`, or per service
`TASDIR_<SERVICE>_DATABASE_URL`); the defaults point at localhost. The children inherit the
supervisor's environment, with `TASDIR_ENVIRONMENT` set to the environment of its settings, so
that every process runs with the configuration the supervisor checked. The supervisor:

1. checks that the broker, Redis and PostgreSQL answer, and says which one does not;
2. migrates every service's database, creating it if it is missing (`python -m <svc> migrate`);
3. starts the nine children, each in a session of its own, so that a Ctrl-C reaches the
   supervisor only and the shutdown is orderly;
4. waits until each API answers `/readyz`, then prints each service's base URL on stdout;
   With `TASDIR_STACK_CONSOLE_PORT` set (`make stack` sets it: CONSOLE_PORT, 8010), the web
   console runs too, on that port, calling each service's API on its own port;
5. passes every child's log line to stderr, prefixed with `<service>.<process> |`, and with
   `--log-dir` also writes it to `<log dir>/<service>-<process>.log`;
6. on SIGINT or SIGTERM stops the children (SIGTERM, a grace period, then SIGKILL) and exits 0.
   If a child dies, or an API is not ready in time, it stops the others and exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from tasdir.settings import Settings, get_settings

from tasdir_cli.services import SERVICES

PROCESSES = ("api", "consumer", "relay")
DEFAULT_BASE_PORT = 8001
CONSOLE = "console"
CONSOLE_PORT_VARIABLE = "TASDIR_STACK_CONSOLE_PORT"
_LINE_LIMIT = 4 * 1024 * 1024  # a JSON log line with a long traceback still fits


class StackError(Exception):
    """The stack cannot start; the message says why."""


def console_port_from_env() -> int | None:
    """The console's port, from `TASDIR_STACK_CONSOLE_PORT`; None (no console) when unset."""
    value = os.environ.get(CONSOLE_PORT_VARIABLE, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) <= 65535:
        say(f"no console: {CONSOLE_PORT_VARIABLE} must be a port number, not {value!r}")
        return None
    return int(value)


@dataclass(frozen=True)
class StackOptions:
    ports: dict[str, int]
    host: str = "127.0.0.1"
    log_dir: Path | None = None
    ready_timeout: float = 60.0
    stop_grace: float = 10.0
    # The web console's own port; None: no console.
    console_port: int | None = field(default_factory=console_port_from_env)

    def ready_ports(self) -> dict[str, int]:
        """What must answer /readyz: each service's API, and the console."""
        console = {} if self.console_port is None else {CONSOLE: self.console_port}
        return {**self.ports, **console}


@dataclass
class Child:
    service: str
    process: str
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    log_file: IO[str] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.service}.{self.process}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


def say(message: str) -> None:
    print(f"stack | {message}", file=sys.stderr, flush=True)


def child_env(settings: Settings | None = None) -> dict[str, str]:
    """The supervisor's environment, unbuffered; with `settings`, their environment too."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Each child serves its /metrics beside its own port; one TASDIR_METRICS_PORT for nine
    # processes would make them fight over it.
    env.pop("TASDIR_METRICS_PORT", None)
    if settings is not None:
        env["TASDIR_ENVIRONMENT"] = settings.environment
    return env


async def _spawn(child: Child, log_dir: Path | None, env: dict[str, str] | None = None) -> None:
    if log_dir is not None:
        child.log_file = (log_dir / f"{child.service}-{child.process}.log").open(
            "a", encoding="utf-8"
        )
    child.proc = await asyncio.create_subprocess_exec(
        *child.argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env if env is not None else child_env(),
        start_new_session=True,
        limit=_LINE_LIMIT,
    )
    child.pump = asyncio.create_task(_pump(child), name=f"pump-{child.label}")
    say(f"{child.label} started (pid {child.proc.pid})")


async def _pump(child: Child) -> None:
    """Copy a child's output, line by line, to our stderr (prefixed) and to its log file."""
    assert child.proc is not None and child.proc.stdout is not None
    prefix = f"{child.label} | "
    while True:
        try:
            raw = await child.proc.stdout.readline()
        except ValueError:  # a line longer than the limit: pass what we have
            raw = await child.proc.stdout.read(_LINE_LIMIT)
        if not raw:
            break
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        sys.stderr.write(prefix + line + "\n")
        sys.stderr.flush()
        if child.log_file is not None:
            child.log_file.write(line + "\n")
            child.log_file.flush()
    if child.log_file is not None:
        child.log_file.close()


def _service_argv(service: str, *args: str) -> list[str]:
    return [sys.executable, "-m", service, *args]


def _endpoints(settings: Settings) -> list[tuple[str, str, int]]:
    """(what, host, port) of each dependency, to say which one is missing."""
    found: list[tuple[str, str, int]] = []
    amqp = urlsplit(settings.amqp_url)
    found.append(("RabbitMQ (TASDIR_AMQP_URL)", amqp.hostname or "127.0.0.1", amqp.port or 5672))
    redis = urlsplit(settings.redis_url)
    found.append(("Redis (TASDIR_REDIS_URL)", redis.hostname or "127.0.0.1", redis.port or 6379))
    seen: set[tuple[str, int]] = set()
    for service in SERVICES:
        url = make_url(settings.database_url(service))
        if url.get_backend_name() != "postgresql":
            continue
        address = (url.host or "127.0.0.1", url.port or 5432)
        if address not in seen:
            seen.add(address)
            found.append((f"PostgreSQL of {service}", *address))
    return found


async def check_dependencies(settings: Settings, connect_timeout: float = 3.0) -> None:
    missing = []
    for what, host, port in _endpoints(settings):
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout=connect_timeout
            )
        except (OSError, TimeoutError):
            missing.append(f"{what} at {host}:{port}")
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if missing:
        raise StackError("unreachable: " + "; ".join(missing))


async def migrate_all(log_dir: Path | None, env: dict[str, str] | None = None) -> None:
    """Migrate every service's database, creating it if it is missing; all at once."""

    async def migrate(service: str) -> None:
        child = Child(service, "migrate", _service_argv(service, "migrate"))
        await _spawn(child, log_dir, env)
        assert child.proc is not None and child.pump is not None
        try:
            code = await child.proc.wait()
        except asyncio.CancelledError:
            _signal(child, signal.SIGTERM)
            raise
        await child.pump
        if code != 0:
            raise StackError(f"migrating {service} failed with exit code {code}")
        say(f"{service}: database migrated")

    await asyncio.gather(*(migrate(service) for service in SERVICES))


async def http_status(host: str, port: int, path: str, wait: float = 2.0) -> int | None:
    """The status code of `GET path`, or None if nothing answers (stdlib only)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait)
    except (OSError, TimeoutError):
        return None
    try:
        request = f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("ascii"))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), wait)
        parts = status_line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def wait_ready(options: StackOptions, children: Sequence[Child]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.ready_timeout
    pending = options.ready_ports()
    while pending:
        for child in children:
            if not child.alive:
                raise StackError(f"{child.label} exited before the stack was ready")
        for service, port in list(pending.items()):
            if await http_status(options.host, port, "/readyz") == 200:
                say(f"{service}: ready")
                del pending[service]
        if not pending:
            return
        if loop.time() > deadline:
            names = ", ".join(pending)
            raise StackError(f"not ready within {options.ready_timeout:.0f}s: {names}")
        await asyncio.sleep(0.25)


def _signal(child: Child, sig: signal.Signals) -> None:
    if child.alive and child.proc is not None:
        # Each child leads its own process group: signal the group, grandchildren included.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, sig)


async def stop_all(children: Sequence[Child], grace: float) -> None:
    for child in children:
        _signal(child, signal.SIGTERM)
    waits = [child.proc.wait() for child in children if child.proc is not None]
    try:
        await asyncio.wait_for(asyncio.gather(*waits), timeout=grace)
    except TimeoutError:
        for child in children:
            if child.alive:
                say(f"{child.label} did not stop within {grace:.0f}s; killing it")
                _signal(child, signal.SIGKILL)
        await asyncio.gather(*(c.proc.wait() for c in children if c.proc is not None))
    pumps = [child.pump for child in children if child.pump is not None]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*pumps, return_exceptions=True), timeout=5)


async def _until_stopped(stop: asyncio.Event, work: asyncio.Future[None]) -> bool:
    """Run `work` unless `stop` comes first; True if it was stopped."""
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    racing: list[asyncio.Future[Any]] = [work, stopping]
    done, _ = await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        stopping.cancel()
        work.result()
        return False
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError, StackError):
        await work
    return True


async def run_stack(options: StackOptions, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if options.log_dir is not None:
        options.log_dir.mkdir(parents=True, exist_ok=True)

    env = child_env(settings)
    children: list[Child] = []
    try:
        await check_dependencies(settings)
        if await _until_stopped(stop, asyncio.ensure_future(migrate_all(options.log_dir, env))):
            return 0
        for service in SERVICES:
            for process in PROCESSES:
                argv = _service_argv(
                    service,
                    process,
                    "--host",
                    options.host,
                    "--port",
                    str(_port(options, service, process)),
                )
                child = Child(service, process, argv)
                children.append(child)
                await _spawn(child, options.log_dir, env)
        if options.console_port is not None:
            children.append(await _spawn_console(options, env))
        say(f"started {len(children)} processes; waiting for /readyz")
        if await _until_stopped(stop, asyncio.ensure_future(wait_ready(options, children))):
            return 0
        print("Tasdir stack is running:", flush=True)
        for service in SERVICES:
            print(f"  {service}: http://{options.host}:{options.ports[service]}", flush=True)
        if options.console_port is not None:
            print(f"  {CONSOLE}: http://{options.host}:{options.console_port}/", flush=True)
        metrics = ", ".join(
            f"{service}.{process} :{_port(options, service, process)}"
            for service in SERVICES
            for process in PROCESSES
            if process != "api"
        )
        print(f"  /metrics of the relays and consumers: {metrics}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

        exits = {
            asyncio.ensure_future(child.proc.wait()): child
            for child in children
            if child.proc is not None
        }
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({*exits, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        for task in exits:
            task.cancel()
        if stopping in done and stop.is_set():
            say("stopping")
            return 0
        dead = [exits[task] for task in done if task in exits]
        for child in dead:
            assert child.proc is not None
            say(f"{child.label} exited with code {child.proc.returncode}; stopping the stack")
        return 1
    except StackError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        await stop_all(children, options.stop_grace)
        say("every process has stopped")


def console_env(options: StackOptions, env: dict[str, str]) -> dict[str, str]:
    """The console's environment: each route prefix of each service sent to that service's
    API port (the library's own routes, such as `/v1/reference`, to the first service's)."""
    from tasdir_cli.services import definitions

    def base(service: str) -> str:
        return f"http://{options.host}:{options.ports[service]}"

    routes = [
        f"{router.prefix}={base(name)}"
        for name, definition in definitions().items()
        for router in definition.routers
        if router.prefix
    ]
    return {
        **env,
        "TASDIR_CONSOLE_API_URL": base(SERVICES[0]),
        "TASDIR_CONSOLE_API_ROUTES": ",".join(routes),
    }


async def _spawn_console(options: StackOptions, env: dict[str, str]) -> Child:
    assert options.console_port is not None
    argv = _service_argv(CONSOLE, "--host", options.host, "--port", str(options.console_port))
    child = Child(CONSOLE, "web", argv)
    await _spawn(child, options.log_dir, console_env(options, env))
    return child


# The relays and consumers serve /metrics beside their service's API port.
METRICS_PORT_OFFSETS = {"api": 0, "relay": 100, "consumer": 200}


def _port(options: StackOptions, service: str, process: str) -> int:
    return int(options.ports[service]) + METRICS_PORT_OFFSETS[process]


def service_ports(base: int, overrides: Sequence[str] = ()) -> dict[str, int]:
    """Each service's API port: `base`, `base + 1`, … in the order of `SERVICES`, changed by
    `SERVICE=PORT` overrides; `ValueError` for a bad override or two services on one port."""
    ports = {service: base + offset for offset, service in enumerate(SERVICES)}
    for item in overrides:
        service, _, port = item.partition("=")
        if service not in ports or not port.isdigit():
            raise ValueError(f"--port takes SERVICE=PORT with SERVICE in {', '.join(SERVICES)}")
        ports[service] = int(port)
    if len(set(ports.values())) != len(ports):
        raise ValueError(f"two services on one port: {ports}")
    highest = 65535 - max(METRICS_PORT_OFFSETS.values())
    out_of_range = [
        f"{service}={port}" for service, port in ports.items() if not 0 < port <= highest
    ]
    if out_of_range:
        raise ValueError(
            f"API ports must be between 1 and {highest} (the relays and consumers use the "
            f"API port + 100 and + 200): {', '.join(out_of_range)}"
        )
    return ports


__all__ = [
    "CONSOLE",
    "CONSOLE_PORT_VARIABLE",
    "DEFAULT_BASE_PORT",
    "METRICS_PORT_OFFSETS",
    "PROCESSES",
    "Child",
    "StackError",
    "StackOptions",
    "check_dependencies",
    "child_env",
    "console_env",
    "console_port_from_env",
    "http_status",
    "migrate_all",
    "run_stack",
    "service_ports",
    "stop_all",
    "wait_ready",
]
