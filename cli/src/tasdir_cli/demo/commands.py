"""The `tasdir` commands that talk to a running system over HTTP (`--base-url`): the demo
(`demo seed`, `demo walkthrough`, `demo accounts`), `reference show`, `requests list` and
`match-sets show`. Each returns its exit code: 0, or 1 with the reason on stderr when the
system cannot be reached or answers an error."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from tasdir.settings import Settings

from tasdir_cli.demo.api import ADMIN, ApiError, DemoApi
from tasdir_cli.demo.generator import DemoData, generate
from tasdir_cli.demo.seeder import Seeder, SeedingError
from tasdir_cli.demo.startup import accounts, accounts_text
from tasdir_cli.demo.views import match_set_view, reference_table, requests_table
from tasdir_cli.demo.walkthrough import WalkthroughError, walkthrough
from tasdir_cli.devtoken import DevIdentity

REFERENCE_KINDS = (
    "regions",
    "countries",
    "blocs",
    "world-regions",
    "currencies",
    "hs-chapters",
    "instruments",
    "fx",
)


class ProgressReporter:
    """The seeder's progress as rich progress bars, one per stage."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1))

    def advance(self, stage: str, count: int = 1) -> None:
        if count:
            self.progress.advance(self.tasks[stage], count)

    def finish(self, stage: str, summary: str) -> None:
        task = self.tasks[stage]
        total = self.progress.tasks[task].total
        self.progress.update(task, completed=total, description=f"{stage}: {summary}")


@contextlib.asynccontextmanager
async def connected(base_url: str, settings: Settings) -> AsyncIterator[DemoApi]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield DemoApi(client, settings)


async def guarded(base_url: str, console: Console, work: Callable[[], Awaitable[int]]) -> int:
    """Run `work`, turning an unreachable system or an unexpected answer into exit code 1."""
    errors = Console(stderr=True, highlight=False)
    try:
        return await work()
    except httpx.TransportError as exc:
        errors.print(f"tasdir: cannot reach {base_url} ({exc!r}): is `make run` running?")
    except (ApiError, SeedingError, WalkthroughError) as exc:
        errors.print(f"tasdir: {exc}")
    return 1


async def seed(
    base_url: str,
    settings: Settings,
    console: Console,
    *,
    seed_value: int,
    deals: bool = True,
) -> int:
    data = generate(seed_value)

    async def work() -> int:
        async with connected(base_url, settings) as api:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                seeder = Seeder(api, data, ProgressReporter(progress))
                report = await seeder.run(deals=deals)
            for note in report.notes:
                console.print(f"note: {note}", highlight=False)
            for problem in report.errors:
                console.print(f"[red]error[/red]: {problem}", highlight=False)
            console.print(f"Demo data (seed {seed_value}): {report.summary()}.", highlight=False)
            console.print(
                accounts_text(api, accounts(data, seeder.provider_ids), base_url),
                highlight=False,
                soft_wrap=True,
            )
            return 1 if report.errors else 0

    return await guarded(base_url, console, work)


async def walk(base_url: str, settings: Settings, console: Console, *, seed_value: int) -> int:
    data = generate(seed_value)

    async def work() -> int:
        async with connected(base_url, settings) as api:
            await walkthrough(api, data, console)
        return 0

    return await guarded(base_url, console, work)


async def show_accounts(
    base_url: str, settings: Settings, console: Console, *, seed_value: int
) -> int:
    data: DemoData = generate(seed_value)

    async def work() -> int:
        async with connected(base_url, settings) as api:
            providers = {p["name"]: str(p["id"]) for p in await api.all("/v1/providers", ADMIN)}
            ids = {
                p.key: providers[p.body["name"]]
                for p in data.providers
                if p.body["name"] in providers
            }
            if data.walkthrough.bank not in ids:
                console.print("The demo data set is not loaded: `tasdir demo seed` loads it.")
                return 1
            console.print(
                accounts_text(api, accounts(data, ids), base_url), highlight=False, soft_wrap=True
            )
        return 0

    return await guarded(base_url, console, work)


async def reference_show(
    base_url: str, settings: Settings, console: Console, who: DevIdentity, kind: str, lang: str
) -> int:
    async def work() -> int:
        async with connected(base_url, settings) as api:
            items: list[dict[str, Any]] = []
            source = ""
            params: dict[str, Any] = {"limit": 100}
            while True:
                page = await api.get(f"/v1/reference/{kind}", who, params=params, lang=lang)
                items += page["items"]
                meta = page.get("source")
                if isinstance(meta, dict):
                    source = f"{meta.get('source')}, as of {meta.get('as_of')}"
                elif kind == "fx":
                    source = f"MAD per unit, as of {page.get('as_of')} ({page.get('source')})"
                if not page.get("next_cursor"):
                    break
                params["cursor"] = page["next_cursor"]
            console.print(reference_table(kind, items, source))
        return 0

    return await guarded(base_url, console, work)


async def requests_list(
    base_url: str,
    settings: Settings,
    console: Console,
    who: DevIdentity,
    *,
    status: str | None,
    region: str | None,
    limit: int,
) -> int:
    async def work() -> int:
        async with connected(base_url, settings) as api:
            params = {k: v for k, v in (("status", status), ("region", region)) if v}
            items: list[dict[str, Any]] = []
            async for item in api.items("/v1/financing-requests", who, params):
                items.append(item)
                if len(items) >= limit:
                    break
            title = f"Financing requests ({len(items)}, oldest first; as {who.role} {who.sub})"
            console.print(requests_table(items, title))
        return 0

    return await guarded(base_url, console, work)


async def match_set_show(
    base_url: str,
    settings: Settings,
    console: Console,
    who: DevIdentity,
    request_id: str,
    *,
    lang: str,
    excluded: int,
) -> int:
    async def work() -> int:
        async with connected(base_url, settings) as api:
            found = await api.get(f"/v1/match-sets/{request_id}", who, lang=lang)
            providers = {str(p["id"]): str(p["name"]) for p in await api.all("/v1/providers", who)}
            console.print(match_set_view(found, providers, lang, excluded=excluded))
        return 0

    return await guarded(base_url, console, work)


__all__ = [
    "REFERENCE_KINDS",
    "ProgressReporter",
    "match_set_show",
    "reference_show",
    "requests_list",
    "seed",
    "show_accounts",
    "walk",
]
