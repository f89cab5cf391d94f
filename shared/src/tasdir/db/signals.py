"""Wake the outbox relay as soon as a transaction that wrote outbox rows commits.

The relay polls (`relay_poll_seconds`), which adds up to a poll interval to every event. So a
unit of work that wrote outbox rows also says so:
- in its own process, at once after the commit (`outbox_committed`): the embedded mode, where
  the API, the consumer and the relay share one process, and any relay beside the writer;
- on PostgreSQL, to every process, with `NOTIFY` inside the transaction, which the server
  delivers only if and when it commits; the relay `LISTEN`s on a connection of its own.
The poll stays as the fallback: a lost notification (the listening connection was down) costs
at most one poll interval, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger(__name__)

# One database per service, and NOTIFY is per database: one channel name serves them all.
OUTBOX_CHANNEL = "tasdir_outbox"
NOTIFY_OUTBOX = f"NOTIFY {OUTBOX_CHANNEL}"

_waiting: defaultdict[str, set[asyncio.Event]] = defaultdict(set)


def database_key(url: URL) -> str:
    """Which database an engine talks to, whichever engine of the process it is."""
    return url.render_as_string(hide_password=True)


def session_key(session: AsyncSession) -> str | None:
    bind = session.bind
    return database_key(bind.url) if isinstance(bind, AsyncEngine) else None


def outbox_committed(key: str | None) -> None:
    """Wake the relays of this process that work on the database `key`."""
    if key is None:
        return
    for wake in tuple(_waiting.get(key, ())):
        wake.set()


def _listen_dsn(url: URL) -> str | None:
    """The asyncpg DSN of a PostgreSQL URL; None for another database."""
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxWakeup:
    """Sets `wake` when outbox rows of `engine`'s database commit, for as long as it is open.

    On PostgreSQL it holds one connection outside the pool that LISTENs. When that connection
    is lost (a database restart) it wakes the relay, whose next idle turn calls
    `keep_listening` to open it again; after a failed attempt, at most every `retry_seconds`."""

    def __init__(
        self, engine: AsyncEngine, wake: asyncio.Event, retry_seconds: float = 5.0
    ) -> None:
        self._key = database_key(engine.url)
        self._dsn = _listen_dsn(engine.url)
        self._wake = wake
        self._retry_seconds = retry_seconds
        self._connection: asyncpg.Connection | None = None
        self._failed_at: float | None = None

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def keep_listening(self) -> None:
        """LISTEN, unless already listening or tried too recently. Never raises."""
        if self._dsn is None or (self._connection and not self._connection.is_closed()):
            return
        now = asyncio.get_running_loop().time()
        if self._failed_at is not None and now - self._failed_at < self._retry_seconds:
            return
        await self._close()
        try:
            connection = await asyncpg.connect(self._dsn, timeout=self._retry_seconds)
            await connection.add_listener(OUTBOX_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self._failed_at = now
            log.warning("the relay cannot LISTEN for commits (%s); polling meanwhile", exc)
            return
        self._failed_at = None
        connection.add_termination_listener(self._notified)
        self._connection = connection
        self._wake.set()  # what committed while nobody listened is picked up at once

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[OutboxWakeup]:
        _waiting[self._key].add(self._wake)
        try:
            await self.keep_listening()
            yield self
        finally:
            _waiting[self._key].discard(self._wake)
            await self._close()


__all__ = [
    "NOTIFY_OUTBOX",
    "OUTBOX_CHANNEL",
    "OutboxWakeup",
    "database_key",
    "outbox_committed",
    "session_key",
]
