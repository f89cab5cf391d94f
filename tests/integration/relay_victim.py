"""A relay process that kills itself (SIGKILL) at a chosen stage of its first batch.

    python relay_victim.py fetched|published

`fetched`: the rows are locked and nothing is published; `published`: the broker confirmed,
but the rows are not marked sent. Either way the process dies without any cleanup.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from exporters.bootstrap import definition
from tasdir.messaging import RabbitTransport
from tasdir.service import ServiceRuntime
from tasdir.settings import get_settings


async def main(stage: str) -> None:
    settings = get_settings()
    transport = RabbitTransport(settings.amqp_url)
    await transport.connect()
    runtime = ServiceRuntime(
        definition,
        database_url=settings.database_url("exporters"),
        transport=transport,
        settings=settings,
    )
    relay = runtime.relay()

    def die(at: str) -> None:
        if at == stage:
            os.kill(os.getpid(), signal.SIGKILL)

    relay._fault = die
    await relay.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
