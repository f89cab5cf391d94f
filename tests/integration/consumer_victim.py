"""Matching's consumer, killed (SIGKILL) in the middle of its queue.

    python consumer_victim.py handled|committed N

At the N-th financing request it handles: `handled` dies inside the transaction, after the
handler wrote the match set and its event but before the commit; `committed` dies after the
commit, before the message is acknowledged (so the broker delivers it again). Either way the
process dies without any cleanup.
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
from tasdir.messaging import RabbitTransport
from tasdir.messaging.consumer import EventConsumer
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

    apply = EventConsumer._apply

    async def apply_then_maybe_die(self: Any, envelope: Envelope, event: Any, handler: Any) -> str:
        outcome = await apply(self, envelope, event, handler)
        if stage == "committed" and envelope.type == REQUEST and seen == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    EventConsumer._apply = apply_then_maybe_die  # type: ignore[method-assign]
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
