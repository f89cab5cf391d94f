"""Matching's consumer, killed (SIGKILL) in the middle of its queue.

    python consumer_victim.py handled|committed N

At the N-th financing request it handles: `handled` dies inside the transaction, after the
handler wrote the match set and its event but before the commit; `committed` dies after the
commit of the transaction that holds it, before the messages are acknowledged (so the broker
delivers them again). Either way the process dies without any cleanup. The consumer applies
the deliveries waiting behind each other in one transaction, so the requests before the N-th
in its batch share its fate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from typing import Any

from matching.bootstrap import definition
from matching.service_layer.handlers import HANDLERS
from tasdir.contracts import Envelope
from tasdir.db.uow import UnitOfWork
from tasdir.messaging import RabbitTransport
from tasdir.service import ServiceRuntime
from tasdir.settings import get_settings

REQUEST = "exporters.financing_request.submitted.v1"


async def main(stage: str, nth: int) -> None:
    seen = 0

    async def counting(envelope: Envelope, event: Any, uow: Any) -> None:
        nonlocal seen
        await HANDLERS[REQUEST](envelope, event, uow)
        seen += 1
        if stage == "handled" and seen == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    commit = UnitOfWork.commit

    async def commit_then_maybe_die(self: Any, result: object = None) -> None:
        await commit(self, result)
        if stage == "committed" and seen >= nth:
            os.kill(os.getpid(), signal.SIGKILL)

    UnitOfWork.commit = commit_then_maybe_die  # type: ignore[method-assign]
    victim = dataclasses.replace(definition, handlers={**HANDLERS, REQUEST: counting})
    settings = get_settings()
    transport = RabbitTransport(settings.amqp_url)
    await transport.connect()
    runtime = ServiceRuntime(
        victim,
        database_url=settings.database_url("matching"),
        transport=transport,
        settings=settings,
    )
    await runtime.subscribe()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
