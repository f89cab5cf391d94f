"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite, WAL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False, pool_size: int = 5) -> AsyncEngine:
    """One engine per service database. SQLite gets WAL and a busy timeout, so that the API,
    the consumer and the relay of the embedded mode can share one file."""
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


def _drop_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection whose socket is already closed (the server restarted, or
    ended the session), so that the pool opens a fresh one instead.

    This replaces `pool_pre_ping`, which costs three round trips (begin, a ping, rollback) on
    every checkout: most of a consumer's or a request's database time for one event. The check
    here is local and free: asyncpg marks a connection closed as soon as the event loop sees
    the server close the socket. A connection that dies without the socket closing fails its
    first statement instead, and SQLAlchemy then invalidates the whole pool, so the next
    checkout connects afresh."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
