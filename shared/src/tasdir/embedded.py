"""The embedded default (`make run`): every service in one process, on one port, with no
infrastructure.

- SQLite (WAL) files in a data folder, one per service, as each service's own database;
- one in-process bus in place of RabbitMQ, with the same topology;
- fakeredis in place of Redis (`app.state.redis`);
- each service's outbox relay and event consumer run as tasks of the app's lifespan.

`tasdir` never imports a service statically: the service definitions are loaded by import path,
so this module stays a composition root and the library keeps no dependency on the services.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fakeredis
from fastapi import FastAPI

from tasdir.api import create_app
from tasdir.devtoken import dev_identity, dev_token
from tasdir.messaging.inproc import Chaos, InProcessBus
from tasdir.messaging.transport import Subscription
from tasdir.runtime import ServiceDefinition, ServiceRuntime
from tasdir.settings import SERVICES, Settings, get_settings

log = logging.getLogger(__name__)

# Where each service's definition lives; the composition root loads them by name.
SERVICE_DEFINITIONS: dict[str, str] = {name: f"{name}.bootstrap:definition" for name in SERVICES}

# The demo data hook. Each entry is "module:function", an `async def seed(system)` that is
# called on every start, after migration and once the relays and consumers run (so the events it
# causes flow). A seeder must therefore be idempotent: it checks what is already there, so that
# the demo data is written on the first start only. The services add theirs here with their issues.
DEMO_SEEDERS: tuple[str, ...] = ()

DEFAULT_PORT = 8000
DEFAULT_DATA_DIR = "var"

Seeder = Callable[["EmbeddedSystem"], Awaitable[None]]


def load_object(path: str) -> Any:
    """`"package.module:attribute"` → the attribute."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def load_definitions(paths: dict[str, str] | None = None) -> list[ServiceDefinition]:
    return [load_object(path) for path in (paths or SERVICE_DEFINITIONS).values()]


def sqlite_url(data_dir: Path, service: str) -> str:
    return f"sqlite+aiosqlite:///{data_dir.resolve() / f'{service}.db'}"


@dataclass
class EmbeddedSystem:
    """Everything the embedded app runs; `app.state.system` for seeders and tests."""

    data_dir: Path
    settings: Settings
    bus: InProcessBus
    runtimes: dict[str, ServiceRuntime]
    redis: Any
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    relay_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

    def __getitem__(self, service: str) -> ServiceRuntime:
        return self.runtimes[service]

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
        for seed in seeders:
            await seed(self)

    async def close(self) -> None:
        self.stop.set()
        # Consumers first: nothing is half-handled when the relays and the bus go.
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.cancel()
        self.subscriptions.clear()
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
    definitions: Sequence[ServiceDefinition] | None = None,
) -> FastAPI:
    """The embedded app. Nothing is opened here: the lifespan migrates and starts everything."""
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
    chosen_seeders = (
        list(seeders) if seeders is not None else [load_object(s) for s in DEMO_SEEDERS]
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await system.start(chosen_seeders)
            yield
        finally:
            await system.close()

    app = create_app("Tasdir (embedded)", list(runtimes.values()), settings, lifespan=lifespan)
    app.state.redis = system.redis
    app.state.system = system
    return app


def dev_tokens(settings: Settings) -> dict[str, str]:
    """One dev token per role, as `make run` prints them."""
    return {
        role: dev_token(settings, dev_identity(role))
        for role in ("exporter", "provider", "advisor", "admin")
    }


def banner(base_url: str, data_dir: Path, tokens: dict[str, str]) -> str:
    lines = [
        "",
        f"Tasdir (embedded) is running on {base_url}  (data in {data_dir.resolve()})",
        f"  OpenAPI docs:    {base_url}/docs",
        f"  OpenAPI schema:  {base_url}/openapi.json",
        f"  Health:          {base_url}/healthz  {base_url}/readyz",
        "",
        "Dev tokens (valid 12 h; another one: make token ROLE=<role>):",
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
    lines += ["", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


async def serve(host: str, port: int, data_dir: Path, settings: Settings) -> None:
    import uvicorn

    app = build_app(data_dir, settings)
    # The access log runs inside the request's context, so each line carries its correlation id.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=True)
    )
    serving = asyncio.create_task(server.serve())
    # The banner waits until the port is listening, so its URLs answer at once; uvicorn
    # exposes that moment only as a flag.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if server.started:
        print(banner(f"http://{host}:{port}", data_dir, dev_tokens(settings)), flush=True)
    await serving
    if not server.started:
        raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    from tasdir.observability import configure_logging

    parser = argparse.ArgumentParser(
        prog="python -m tasdir.embedded", description="Run every Tasdir service in one process."
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR)
    )
    args = parser.parse_args(argv)
    configure_logging("embedded")
    asyncio.run(serve(args.host, args.port, args.data_dir, get_settings()))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
    sys.exit(0)
