"""Alembic, driven from code: one migration folder per service, one shared env."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, make_url

from tasdir.db.engine import create_engine, is_sqlite


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["url"] = url
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Blocking; from async code use `await migrate(...)`."""
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def migrate(migrations_dir: Path, url: str) -> None:
    if not is_sqlite(url):
        await ensure_database(url)
    # env.py runs its own event loop, so alembic gets a thread of its own.
    await asyncio.to_thread(upgrade, migrations_dir, url)


async def ensure_database(url: str) -> None:
    """Create the service's PostgreSQL database if it is missing."""
    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()


def run_env(metadata: MetaData) -> None:
    """The body of every service's `env.py`."""
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database url given to alembic")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(main())


# Changes to the tables every service keeps (`tasdir.db.tables`). Each service's migration calls
# these, so the three databases change the same way.


def add_outbox_retry_columns() -> None:
    """The relay's per-row backoff: when a row first failed, when it is tried next."""
    import sqlalchemy as sa
    from alembic import op

    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))


def drop_outbox_retry_columns() -> None:
    from alembic import op

    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("first_failed_at")
