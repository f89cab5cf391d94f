"""Server-sent event streams under test: an app served by a real uvicorn on a free port (httpx's
ASGI transport reads a whole body before it answers, so it cannot read an endless stream), and
a reader of the `text/event-stream` format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from support.infra import eventually

#: How long a test waits for the next event or comment before it fails (not a timing check:
#: the events come within a heartbeat).
PATIENCE = 30.0


@asynccontextmanager
async def uvicorn_serving(app: FastAPI) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1 and a free port, its lifespan running; yields the
    base URL. Close the streams before leaving: a server stops after its open requests."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        if serving.done():
            serving.result()  # raises what stopped it
            raise AssertionError("uvicorn stopped before it started")
        return server.started

    await eventually(started, timeout=PATIENCE, interval=0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@dataclass
class Event:
    """One event of a stream, or a comment (`comment` set, the rest empty)."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


@dataclass
class EventReader:
    """Reads a `text/event-stream` response one event (or comment) at a time."""

    response: httpx.Response
    _lines: AsyncIterator[str] | None = field(default=None, init=False)

    async def _next_event(self) -> Event:
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        current: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if current:
                    return Event(**current)
                continue
            if line.startswith(":"):
                if not current:
                    return Event(comment=line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data" and "data" in current:
                current["data"] += "\n" + value
            elif name in ("id", "event", "data"):
                current[name] = value
        raise AssertionError("the stream ended")

    async def next(self) -> Event:
        return await asyncio.wait_for(self._next_event(), timeout=PATIENCE)

    async def next_event(self) -> Event:
        """The next event that is not a comment."""
        while True:
            found = await self.next()
            if found.comment is None:
                return found

    async def next_comment(self) -> Event:
        while True:
            found = await self.next()
            if found.comment is not None:
                return found


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[EventReader]:
    """A stream that must open (200, `text/event-stream`)."""
    async with client.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventReader(response)
