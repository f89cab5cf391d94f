"""The demo data set on `make run`: loaded on each start, in the background, through the
embedded app's own public API (in process), then the demo accounts and their tokens.

The first start loads everything (about a minute); the next ones find it in place and only
check (a few seconds), because the seeder is idempotent. The port answers at once meanwhile:
the load runs beside the server, and stops with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from tasdir_cli.demo.api import ADMIN, DemoApi, Stopped, identity
from tasdir_cli.demo.generator import DEFAULT_SEED, DemoData, generate
from tasdir_cli.demo.seeder import Reporter, Seeder, Silent
from tasdir_cli.devtoken import DevIdentity

if TYPE_CHECKING:
    from tasdir_cli.embedded import EmbeddedSystem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    """A demo account: its role, who it is, and the identity its dev token carries."""

    role: str
    who: str
    identity: DevIdentity


def accounts(data: DemoData, provider_ids: dict[str, str]) -> list[Account]:
    """The accounts `make run` prints: the guided demo's exporter, the advisor of its region,
    its bank and an admin."""
    guide = data.exporter(data.walkthrough.exporter)
    bank = next(p for p in data.providers if p.key == data.walkthrough.bank)
    region = guide.region
    return [
        Account(
            "exporter",
            f"{guide.body['legal_name']} ({region}, mono-market)",
            identity("exporter", guide.user, org=guide.key),
        ),
        Account(
            "advisor",
            f"the regional office of {region}",
            identity("advisor", data.advisors[region], regions=[region]),
        ),
        Account(
            "bank",
            str(bank.body["name"]),
            identity("provider", f"demo-{bank.key}-officer", provider_id=provider_ids[bank.key]),
        ),
        Account("admin", "every region and provider", ADMIN),
    ]


def accounts_text(api: DemoApi, listed: list[Account], base_url: str) -> str:
    lines = ["Demo accounts (dev tokens, valid 12 h):"]
    for account in listed:
        lines.append(f"  - {account.role}, {account.who}: {api.token(account.identity)}")
    demo = "make demo" if base_url == "http://127.0.0.1:8000" else f"make demo BASE_URL={base_url}"
    lines += [
        f"The guided demo: `{demo}`; the data set: docs/demo.md.",
        "",
    ]
    return "\n".join(lines)


class LineReporter:
    """The seeder's progress as one line per stage, for a server's terminal."""

    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, count: int = 1) -> None:
        pass

    def finish(self, stage: str, summary: str) -> None:
        print(f"  demo data: {summary}", flush=True)


@contextlib.asynccontextmanager
async def in_process(system: EmbeddedSystem) -> AsyncIterator[DemoApi]:
    """The embedded app's public API, called in process (no port needed)."""
    assert system.app is not None, "the system's app is set by build_app"
    transport = httpx.ASGITransport(app=system.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://embedded", timeout=120
    ) as client:
        yield DemoApi(client, system.settings, stop=system.stop)


async def seed_now(
    system: EmbeddedSystem, data: DemoData, reporter: Reporter | None = None
) -> Seeder:
    """Apply `data` to the embedded system now, through its API; the seeder, with its report
    and the ids it found."""
    async with in_process(system) as api:
        seeder = Seeder(api, data, reporter or Silent())
        await seeder.run()
        return seeder


async def load(system: EmbeddedSystem, seed: int = DEFAULT_SEED) -> None:
    """Load the data set of `seed` once the server listens, then print the demo accounts."""
    waits = [asyncio.ensure_future(e.wait()) for e in (system.listening, system.stop)]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    if system.stop.is_set():
        return
    data = generate(seed)
    try:
        seeder = await seed_now(system, data, LineReporter())
    except Stopped:
        print("Demo data: stopped before it was all loaded; the next start goes on.", flush=True)
        return
    except Exception as exc:
        log.exception("the demo data set did not load")
        print(f"Demo data: did not load ({exc}); see the log.", flush=True)
        return
    system.demo_provider_ids = dict(seeder.provider_ids)
    report = seeder.report
    for problem in report.errors:
        print(f"  demo data: {problem}", flush=True)
    print(f"Demo data loaded: {report.summary()}.", flush=True)
    base_url = system.base_url or "http://127.0.0.1:8000"
    print(accounts_text(seeder.api, accounts(data, seeder.provider_ids), base_url), flush=True)


async def load_in_background(system: EmbeddedSystem) -> None:
    """The `make run` seeder: the start does not wait for the data set."""
    system.in_background(load(system), name="demo-data")


__all__ = [
    "Account",
    "LineReporter",
    "accounts",
    "accounts_text",
    "in_process",
    "load",
    "load_in_background",
    "seed_now",
]
