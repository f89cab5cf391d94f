from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from support import infra
from tasdir.messaging import RabbitTransport


@pytest.fixture
def rabbit() -> Iterator[tuple[str, str]]:
    """(vhost, amqp url) of a vhost of this test's own."""
    vhost, url = infra.create_vhost()
    yield vhost, url
    infra.delete_vhost(vhost)


@pytest.fixture
async def broker(rabbit: tuple[str, str]) -> AsyncIterator[RabbitTransport]:
    """A connected RabbitMQ transport on this test's vhost, with the topology declared."""
    transport = RabbitTransport(rabbit[1])
    await transport.connect()
    await transport.declare_topology()
    yield transport
    await transport.close()


@pytest.fixture
async def databases() -> AsyncIterator[infra.DatabaseFactory]:
    """A factory of fresh PostgreSQL databases; all are dropped after the test."""
    created: list[str] = []

    async def make() -> str:
        name, url = await infra.create_database()
        created.append(name)
        return url

    yield make
    for name in created:
        await infra.drop_database(name)
