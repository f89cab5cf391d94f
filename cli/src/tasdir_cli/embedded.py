"""The embedded default (`tasdir run`, `make run`): every service in one process, on one port,
with no infrastructure.

- SQLite (WAL) files in a data folder, one per service, as each service's own database;
- one in-process bus in place of RabbitMQ, with the same topology;
- fakeredis in place of Redis (`app.state.redis`);
- each service's outbox relay, event consumer and background jobs run as tasks of the app's
  lifespan (the jobs with the fakeredis client);
- the web console at `/console`, calling the same app's API in process (docs/console.md).

This module is a composition root: it takes the service definitions from
`tasdir_cli.services`, so the library itself keeps no dependency on the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import fakeredis
import httpx
from console.bootstrap import create_app as create_console
from console.config import PREFIX as CONSOLE_PREFIX
from console.config import ConsoleSettings
from console.service_layer.signin import DEV_TOKEN_TTL_SECONDS, DevPrincipal, PrincipalSource
from fakeredis import FakeAsyncRedis
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from tasdir.api import create_app, serve_metrics
from tasdir.messaging.inproc import Chaos, InProcessBus
from tasdir.messaging.transport import Subscription
from tasdir.process import api_server
from tasdir.service import (
    AnyServiceDefinition,
    AnyServiceRuntime,
    ServiceRuntime,
    stop_background,
)
from tasdir.settings import Settings, describe_error, get_settings

from tasdir_cli.devtoken import DevIdentity, dev_identity, dev_token
from tasdir_cli.services import definitions as service_definitions

log = logging.getLogger(__name__)

Seeder = Callable[["EmbeddedSystem"], Awaitable[None]]

# The demo data hook: each entry is an `async def seed(system)` that is called on every start,
# after migration and once the relays and consumers run (so the events it causes flow). A
# seeder must therefore be idempotent: it checks what is already there, so that the demo data
# is written on the first start only. `build_app` runs these when it is given no seeders;
# `tasdir run` runs them and the demo data set (`demo_seeders`), unless `--no-demo`.
DEMO_SEEDERS: tuple[Seeder, ...] = ()

DEFAULT_PORT = 8000
SEED_STOP_SECONDS = 15.0
DEFAULT_DATA_DIR = "var"
CONSOLE_PATH = "/console"


def load_definitions() -> list[AnyServiceDefinition]:
    """Every service's definition, in the order of `tasdir_cli.services.SERVICES`."""
    return list(service_definitions().values())


def sqlite_url(data_dir: Path, service: str) -> str:
    return f"sqlite+aiosqlite:///{data_dir.resolve() / f'{service}.db'}"


@dataclass
class EmbeddedSystem:
    """Everything the embedded app runs; `app.state.system` for seeders and tests."""

    data_dir: Path
    settings: Settings
    bus: InProcessBus
    runtimes: dict[str, AnyServiceRuntime]
    redis: FakeAsyncRedis
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    relay_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    job_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    # The app itself, for seeders that call its public API in process.
    app: FastAPI | None = None
    # Set by `serve` once the port listens and the banner is printed, with its URL.
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str | None = None
    # Work a seeder left running after the start (the demo data set loads so); cancelled first
    # when the system closes.
    seed_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Why the console is not served at /console (its settings cannot run), or None.
    console_off: str | None = None
    # The demo's provider ids by provider key, once its data set has loaded (the demo bank's
    # account on the console's sign-in needs its id).
    demo_provider_ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, service: str) -> AnyServiceRuntime:
        return self.runtimes[service]

    def in_background(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` beside the system, so that the start does not wait for it."""
        task = asyncio.create_task(work, name=name)
        self.seed_tasks.append(task)
        return task

    async def start(self, seeders: Sequence[Seeder]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for runtime in self.runtimes.values():
            await runtime.migrate()
        await self.bus.connect()
        # Declared before any relay runs, so a publish never precedes the queue that needs it.
        await self.bus.declare_topology()
        self.stop.clear()
        for runtime in self.runtimes.values():
            self.relay_tasks.append(
                asyncio.create_task(runtime.relay().run(self.stop), name=f"{runtime.name}-relay")
            )
            self.subscriptions.append(await runtime.subscribe())
            self.job_tasks += runtime.start_background(self.redis, self.stop)
        for seed in seeders:
            await seed(self)

    async def close(self) -> None:
        self.stop.set()
        # Seeding first: it calls the API, whose consumers and relays are about to stop. It
        # stops by itself between two calls once `stop` is set (a task cancelled in the middle
        # of a call would cancel the app's handler mid-transaction); cancelled if it lingers.
        if self.seed_tasks:
            _done, lingering = await asyncio.wait(self.seed_tasks, timeout=SEED_STOP_SECONDS)
            for task in lingering:
                task.cancel()
        for outcome in await asyncio.gather(*self.seed_tasks, return_exceptions=True):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                log.error("a seeder stopped with an error", exc_info=outcome)
        self.seed_tasks.clear()
        # Consumers first: nothing is half-handled when the relays and the bus go.
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.cancel()
        self.subscriptions.clear()
        await stop_background(self.job_tasks)
        self.job_tasks.clear()
        for outcome in await asyncio.gather(*self.relay_tasks, return_exceptions=True):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                log.error("an outbox relay stopped with an error", exc_info=outcome)
        self.relay_tasks.clear()
        await self.bus.close()
        for runtime in self.runtimes.values():
            await runtime.dispose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()


def build_app(
    data_dir: Path | str,
    settings: Settings | None = None,
    *,
    seeders: Sequence[Seeder] | None = None,
    chaos: Chaos | None = None,
    definitions: Sequence[AnyServiceDefinition] | None = None,
    demo: bool = False,
) -> FastAPI:
    """The embedded app. Nothing is opened here: the lifespan migrates and starts everything.
    The console's dev sign-in lists the demo accounts with `demo`."""
    settings = settings or get_settings()
    data_dir = Path(data_dir)
    bus = InProcessBus(chaos=chaos)
    runtimes = {
        definition.name: ServiceRuntime(
            definition,
            database_url=sqlite_url(data_dir, definition.name),
            transport=bus,
            settings=settings,
        )
        for definition in (definitions if definitions is not None else load_definitions())
    }
    system = EmbeddedSystem(
        data_dir=data_dir,
        settings=settings,
        bus=bus,
        runtimes=runtimes,
        redis=fakeredis.FakeAsyncRedis(),
    )
    chosen_seeders = list(seeders if seeders is not None else DEMO_SEEDERS)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await system.start(chosen_seeders)
            yield
        finally:
            await system.close()

    app = create_app(
        "Tasdir (embedded)",
        list(runtimes.values()),
        settings,
        lifespan=lifespan,
        redis=system.redis,
    )
    app.state.system = system
    system.app = app
    system.console_off = mount_console(
        app, settings, console_principals(demo, lambda: system.demo_provider_ids)
    )
    return app


def mount_console(app: FastAPI, settings: Settings, principals: PrincipalSource) -> str | None:
    """Serve the console at `/console`, calling `app`'s API in process; or, when its settings
    cannot run (production without `TASDIR_CONSOLE_SESSION_KEY`), say why and serve none."""
    try:
        console_settings = ConsoleSettings(environment=settings.environment, api_url="http://api")
    except ValidationError as exc:
        return describe_error(exc, prefix=CONSOLE_PREFIX)
    console = create_console(
        console_settings,
        transport=httpx.ASGITransport(app=app),
        principals=principals,
        token_settings=settings,
    )
    app.mount(CONSOLE_PATH, console)

    async def to_console(_request: Request) -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=308)

    # The mount serves `/console/...`; the banner's `/console` leads there.
    app.router.add_route(CONSOLE_PATH, to_console, include_in_schema=False)
    return None


def _principal(key: str, label: str, identity: DevIdentity) -> DevPrincipal:
    """A console account signed as `tasdir token` signs it."""
    return DevPrincipal(
        key=key,
        label=label,
        role=identity.role,
        sub=identity.sub,
        mint=partial(dev_token, identity=identity, ttl_seconds=DEV_TOKEN_TTL_SECONDS),
        regions=identity.regions,
    )


def console_principals(
    demo: bool, provider_ids: Callable[[], dict[str, str]] = dict
) -> PrincipalSource:
    """The accounts of the console's dev sign-in: with the demo data, the demo's accounts (its
    guided exporter, the advisor of its region, its bank once `provider_ids()` knows the bank's
    id, that is once the data set has loaded, and its admin) and the advisors of the other
    regions; then one dev account per role, as `tasdir token` makes them."""
    listed: list[DevPrincipal] = []
    with_ids: dict[str, str] = {}

    def principals() -> list[DevPrincipal]:
        ids = provider_ids() if demo else {}
        if not listed or ids != with_ids:
            with_ids.clear()
            with_ids.update(ids)
            listed[:] = _demo_principals(ids) if demo else []
            listed.extend(
                _principal(f"dev-{role}", f"dev {role}", dev_identity(role))
                for role in ("exporter", "provider", "advisor", "admin")
            )
        return listed

    return principals


def _demo_principals(provider_ids: dict[str, str]) -> list[DevPrincipal]:
    from tasdir_cli.demo.api import identity
    from tasdir_cli.demo.generator import generate
    from tasdir_cli.demo.startup import accounts

    data = generate()
    # The bank's account needs its provider id, known once the data set has loaded.
    bank_known = data.walkthrough.bank in provider_ids
    found = [
        a for a in accounts(data, defaultdict(str, provider_ids)) if a.role != "bank" or bank_known
    ]
    listed = [
        _principal("-".join(["demo", a.role, *a.identity.regions]), a.who, a.identity)
        for a in found
    ]
    shown = {r for a in found for r in a.identity.regions}
    listed[-1:-1] = [
        _principal(
            f"demo-advisor-{region}",
            f"the regional office of {region}",
            identity("advisor", data.advisors[region], regions=[region]),
        )
        for region in data.advisors
        if region not in shown
    ]
    return listed


def demo_seeders(demo: bool = True) -> list[Seeder]:
    """What `tasdir run` seeds on each start: the `DEMO_SEEDERS` and the demo data set, loaded in
    the background through the public API; nothing with `demo=False` (`make run DEMO=0`)."""
    if not demo:
        return []
    from tasdir_cli.demo.startup import load_in_background

    return [*DEMO_SEEDERS, load_in_background]


def dev_tokens(settings: Settings) -> dict[str, str]:
    """One dev token per role, as `make run` prints them."""
    return {
        role: dev_token(settings, dev_identity(role))
        for role in ("exporter", "provider", "advisor", "admin")
    }


def banner(
    base_url: str,
    data_dir: Path,
    tokens: dict[str, str],
    *,
    demo: bool = False,
    console_off: str | None = None,
) -> str:
    console = f"{base_url}{CONSOLE_PATH}" if console_off is None else f"off ({console_off})"
    lines = [
        "",
        f"Tasdir (embedded) is running on {base_url}  (data in {data_dir.resolve()})",
        f"  Web console:     {console}",
        f"  OpenAPI docs:    {base_url}/docs",
        f"  OpenAPI schema:  {base_url}/openapi.json",
        f"  Health:          {base_url}/healthz  {base_url}/readyz",
        "",
        "Dev tokens (valid 12 h; another one: "
        "tasdir token --role <role>, or make token ROLE=<role>):",
    ]
    examples = {
        "exporter": "/v1/exporters/me",
        "provider": "/v1/reference/instruments",
        "advisor": "/v1/match-sets",
        "admin": "/v1/providers",
    }
    for role, token in tokens.items():
        lines += [
            f"  {role}: {token}",
            f'    curl -H "Authorization: Bearer {token}" {base_url}{examples[role]}',
        ]
    if demo:
        lines += [
            "",
            "Demo data: loading through the API, in the background (about a minute on the "
            "first start;",
            "  later starts find it in place); its accounts follow. `make run DEMO=0` skips it.",
        ]
    lines += ["", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


async def serve(
    host: str, port: int, data_dir: Path, settings: Settings, *, demo: bool = True
) -> None:
    app = build_app(data_dir, settings, seeders=demo_seeders(demo), demo=demo)
    system: EmbeddedSystem = app.state.system
    if settings.metrics_port is not None:
        # The app then keeps /metrics off its public port: serve it on the one configured.
        serve_metrics(host, settings.metrics_port)
    server = api_server(app, host, port)
    serving = asyncio.create_task(server.serve())
    # The banner waits until the port is listening, so its URLs answer at once; uvicorn
    # exposes that moment only as a flag.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if server.started:
        base_url = f"http://{host}:{port}"
        tokens = dev_tokens(settings)
        printed = banner(base_url, data_dir, tokens, demo=demo, console_off=system.console_off)
        print(printed, flush=True)
        system.base_url = base_url
        system.listening.set()
    await serving
    if not server.started:
        raise SystemExit(1)


__all__ = [
    "CONSOLE_PATH",
    "DEFAULT_DATA_DIR",
    "DEFAULT_PORT",
    "DEMO_SEEDERS",
    "EmbeddedSystem",
    "Seeder",
    "banner",
    "build_app",
    "console_principals",
    "demo_seeders",
    "dev_tokens",
    "load_definitions",
    "mount_console",
    "serve",
    "sqlite_url",
]
