"""The public API, as the console calls it: httpx, with the user's bearer token forwarded.

The console reads nothing else: no database, no other service's code. An answer of 400 or more
becomes `ApiError` with the API's problem+json document, so that the page can say what the API
said; an API that cannot be reached becomes `ApiUnavailable`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx

JsonObject = dict[str, Any]


class ApiError(Exception):
    """The API answered with an error: its status and its problem document."""

    def __init__(self, status: int, problem: JsonObject) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status}: {self.detail}")

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or "")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "")

    @property
    def kind(self) -> str | None:
        """The last part of the problem's `type` (`stale-match-set`, ...)."""
        kind = self.problem.get("type")
        return str(kind).rstrip("/").rsplit("/", 1)[-1] if kind else None

    @property
    def errors(self) -> list[JsonObject]:
        """The field errors of a 422, as the API lists them."""
        found = self.problem.get("errors")
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


class ApiUnavailable(Exception):
    """The API could not be reached, or did not answer in time."""


def _problem(response: httpx.Response) -> JsonObject:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"title": response.reason_phrase or "Error", "status": response.status_code}


class Api:
    """One user's view of the API: `client` is shared by the app, `token` is the user's."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        routes: Mapping[str, str],
        token: str | None,
        lang: str,
    ) -> None:
        self._client = client
        # Longest prefix first, so that `/v1/match-sets` wins over `` (the default).
        self._routes = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)
        self._headers = {"Accept-Language": lang, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        base = next(url for prefix, url in self._routes if path.startswith(prefix))
        return f"{base}{path}"

    async def _send(self, method: str, path: str, **options: Any) -> Any:
        headers = {**self._headers, **options.pop("headers", {})}
        try:
            response = await self._client.request(
                method, self.url(path), headers=headers, **options
            )
        except httpx.TransportError as exc:
            raise ApiUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _problem(response))
        return response.json() if response.content else None

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self._send("GET", path, params=query)

    async def post(self, path: str, body: JsonObject, idempotency_key: str | None = None) -> Any:
        """A write, with an `Idempotency-Key` (the form's, so that a double submit is one)."""
        key = idempotency_key or str(uuid.uuid4())
        return await self._send("POST", path, json=body, headers={"Idempotency-Key": key})

    async def delete(self, path: str) -> Any:
        return await self._send("DELETE", path)

    async def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int = 100, most: int
    ) -> tuple[list[JsonObject], bool]:
        """Up to `most` items of a paged list, and whether there were more."""
        items: list[JsonObject] = []
        query = {**(params or {}), "limit": limit}
        while True:
            page = await self.get(path, query)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or len(items) >= most:
                return items[:most], bool(cursor) or len(items) > most
            query["cursor"] = cursor
