"""The public HTTP APIs as the demo calls them: dev tokens per identity, pages, and patience.

Every call goes through the APIs a client would use (never into a service's tables), so that
the demo data runs the real event flow. The same class talks to `make run` over HTTP
(`tasdir demo seed --base-url`) and to the embedded app in process (the seeder that `make run`
starts), through whichever `httpx.AsyncClient` it is given.

Each principal has a rate limit (TASDIR_RATE_LIMIT_PER_MINUTE, per token `sub`): a 429 is
waited out (`Retry-After`), and the demo spreads its work over several users of each party
(the officers of a bank, the advisors of a regional office) as a real deployment would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from tasdir.settings import Settings

from tasdir_cli.devtoken import DevIdentity, dev_identity, dev_token

log = logging.getLogger(__name__)

#: How many times a call is tried when the system is busy (429, an idempotent call in flight,
#: a 502/503/504) before its error is raised; and when the connection fails (a system that is
#: not there should say so at once).
ATTEMPTS = 8
CONNECTION_ATTEMPTS = 3
MAX_RETRY_AFTER_SECONDS = 65.0


class ApiError(Exception):
    """An answer the demo did not expect: the method, path, status and problem."""

    def __init__(self, method: str, path: str, response: httpx.Response) -> None:
        self.status = response.status_code
        self.problem: dict[str, Any] = {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.problem = body
        detail = self.problem.get("detail") or response.text[:300]
        super().__init__(f"{method} {path}: {self.status} {self.kind or ''} {detail}".strip())

    @property
    def kind(self) -> str | None:
        """The problem's `type` slug (`duplicate`, `stale-match-set`...)."""
        kind = self.problem.get("type")
        return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else None


class Stopped(Exception):
    """The system is stopping: the demo stops between two calls, never in the middle of one."""


def identity(role: str, sub: str, **claims: Any) -> DevIdentity:
    """A dev identity: `org`, `provider_id` or `regions` as the role needs."""
    return dev_identity(role, sub=sub, **claims)


ADMIN = identity("admin", "demo-admin")


@dataclass
class DemoApi:
    """A client of one running system (`client.base_url`), signing dev tokens with
    `settings`."""

    client: httpx.AsyncClient
    settings: Settings
    pause: float = 0.5
    # Set when the system stops (the embedded app's `stop`): no new call starts after it. A call
    # cancelled half-way would cancel the handler inside the app (in process) mid-transaction.
    stop: asyncio.Event | None = None

    def __post_init__(self) -> None:
        self._tokens: dict[DevIdentity, str] = {}

    def check(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped("the system is stopping")

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if the system stops (then `Stopped`)."""
        self.check()
        if self.stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        self.check()

    def token(self, who: DevIdentity) -> str:
        if who not in self._tokens:
            self._tokens[who] = dev_token(self.settings, who)
        return self._tokens[who]

    def headers(self, who: DevIdentity, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(who)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def call(
        self,
        method: str,
        path: str,
        who: DevIdentity,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
        ok: Sequence[int] = (200, 201),
        lang: str | None = None,
    ) -> httpx.Response:
        """One call, tried again while the system is busy; an `ApiError` unless its status is
        one of `ok`."""
        headers = self.headers(who, key)
        if lang is not None:
            headers["Accept-Language"] = lang
        for attempt in range(1, ATTEMPTS + 1):
            self.check()
            try:
                response = await self.client.request(
                    method, path, json=body, params=params, headers=headers
                )
            except httpx.TransportError:
                if attempt >= CONNECTION_ATTEMPTS:
                    raise
                await self.sleep(self.pause * attempt)
                continue
            if response.status_code in ok:
                return response
            wait = self._busy(response)
            if wait is None or attempt == ATTEMPTS:
                raise ApiError(method, path, response)
            log.debug("%s %s: %s, again in %.1fs", method, path, response.status_code, wait)
            await self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _busy(self, response: httpx.Response) -> float | None:
        """How long to wait before trying again, or None when trying again would not help."""
        if response.status_code == 429:
            try:
                seconds = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                seconds = 1.0
            return min(max(seconds, 0.2), MAX_RETRY_AFTER_SECONDS)
        if response.status_code in (502, 503, 504):
            return self.pause * 2
        if response.status_code == 409 and "idempotency-in-flight" in response.text:
            return self.pause
        return None

    async def get(self, path: str, who: DevIdentity, **options: Any) -> Any:
        return (await self.call("GET", path, who, **options)).json()

    async def post(self, path: str, who: DevIdentity, body: Any = None, **options: Any) -> Any:
        return (await self.call("POST", path, who, body=body, **options)).json()

    async def items(
        self, path: str, who: DevIdentity, params: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a list, page after page (100 at a time)."""
        query: dict[str, Any] = {**(params or {}), "limit": 100}
        while True:
            page = await self.get(path, who, params=query)
            for item in page["items"]:
                yield item
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]

    async def all(
        self, path: str, who: DevIdentity, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return [item async for item in self.items(path, who, params)]


__all__ = ["ADMIN", "ApiError", "DemoApi", "Stopped", "identity"]
