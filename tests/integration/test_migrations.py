"""Each service's migrations build exactly the schema its models declare, on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from credit_products.bootstrap import definition as credit_products
from exporters.bootstrap import definition as exporters
from matching.bootstrap import definition as matching
from support.infra import DatabaseFactory
from tasdir.db import create_engine
from tasdir.db.migrations import migrate
from tasdir.service import ServiceDefinition


@pytest.mark.parametrize("definition", [exporters, credit_products, matching], ids=lambda d: d.name)
async def test_migrations_match_the_models(
    definition: ServiceDefinition, databases: DatabaseFactory
) -> None:
    url = await databases()
    await migrate(definition.migrations_dir, url)
    await migrate(definition.migrations_dir, url)  # idempotent: a second run changes nothing
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), definition.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
