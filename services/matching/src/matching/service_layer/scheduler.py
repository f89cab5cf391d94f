"""The scheduler: every `scheduler_interval_seconds`, expires the offers and consents whose time
has passed (`deals.expire_due`), in one transaction, and logs what it did.

`expire_due` is idempotent (a second run finds nothing left to do, and the notifications it
writes carry a dedupe key), so the schedulers of several consumer processes may run at once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tasdir.contracts.base import utcnow
from tasdir.service import AnyServiceRuntime, JobContext, repeat

from matching.config import get_matching_settings

log = logging.getLogger(__name__)


async def run_once(runtime: AnyServiceRuntime, now: datetime) -> dict[str, int]:
    """One pass at `now`: what expired, by kind (`{"offers": 2, "consents": 0}`)."""
    # Imported here: the deal flow imports much of the service, the scheduler only needs this.
    from matching.service_layer import deals

    async with runtime.uow() as uow:
        counts = await deals.expire_due(uow, now)
        await uow.commit()
    if any(counts.values()):
        log.info(
            "scheduler at %s expired %s",
            now.isoformat(),
            ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())),
        )
    return counts


async def scheduler(context: JobContext) -> None:
    """The background job: `run_once` every `scheduler_interval_seconds`."""

    async def tick(context: JobContext) -> None:
        await run_once(context.runtime, utcnow())

    every = get_matching_settings().scheduler_interval_seconds
    await repeat(tick, every, name="deal-scheduler")(context)


__all__ = ["run_once", "scheduler"]
