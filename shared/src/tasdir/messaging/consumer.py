"""The event consumer: parse, dedupe through the inbox, handle in one transaction, then ack.

- An unparseable message is dead-lettered at once: no retry can make it readable.
- A handler error rolls back and returns the message *with* requeue (`basic.reject`, which
  every RabbitMQ version counts as a failed delivery), so a passing fault (a database hiccup)
  is retried, and the quorum queue's delivery limit dead-letters a message that keeps failing.
- The inbox row is written in the handler's transaction: a redelivery after a lost ack, or a
  duplicate, finds it and is acked without being applied again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError

from tasdir.contracts import ContractError, Envelope, IntegrationEvent, decode_envelope
from tasdir.correlation import bind
from tasdir.db.uow import UnitOfWork
from tasdir.messaging.transport import Delivery, Subscription, Transport

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)
EventHandler = Callable[[Envelope, Any, U], Awaitable[None]]


class EventConsumer(Generic[U]):
    def __init__(
        self,
        name: str,
        uow_factory: Callable[[], U],
        handlers: Mapping[str, EventHandler[U]],
        *,
        on_outcome: Callable[[str, str], None] | None = None,
        delivery_limit: int | None = None,
    ) -> None:
        self.name = name
        self._uow_factory = uow_factory
        self._handlers = dict(handlers)
        self._on_outcome = on_outcome or (lambda _type, _outcome: None)
        # The queue's limit: a failure on the delivery that reaches it is a dead-lettering.
        self._delivery_limit = delivery_limit
        # One delivery at a time, in the order received: projections apply in order.
        self._serial = asyncio.Lock()

    async def __call__(self, delivery: Delivery) -> None:
        async with self._serial:
            await self._handle(delivery)

    async def _handle(self, delivery: Delivery) -> None:
        try:
            envelope = decode_envelope(delivery.body)
        except ContractError as exc:
            log.error(
                "dead-lettering an unreadable message: %s",
                exc,
                extra={"routing_key": delivery.routing_key},
            )
            await delivery.dead_letter()
            self._on_outcome(delivery.routing_key, "dead_lettered")
            return
        bind(envelope.correlation_id, str(envelope.event_id))
        handler = self._handlers.get(envelope.type)
        if handler is None:
            await delivery.ack()  # bound by a wildcard, not of interest here
            self._on_outcome(envelope.type, "ignored")
            return
        try:
            event: IntegrationEvent = envelope.event()
        except ContractError as exc:
            log.error(
                "dead-lettering an invalid event: %s",
                exc,
                extra={"event_id": str(envelope.event_id)},
            )
            await delivery.dead_letter()
            self._on_outcome(envelope.type, "dead_lettered")
            return
        try:
            outcome = await self._apply(envelope, event, handler)
        except Exception:
            log.exception(
                "handler failed; requeueing",
                extra={
                    "event_id": str(envelope.event_id),
                    "event_type": envelope.type,
                    "delivery_count": delivery.delivery_count,
                },
            )
            await delivery.requeue()
            last = (
                self._delivery_limit is not None and delivery.delivery_count >= self._delivery_limit
            )
            self._on_outcome(envelope.type, "dead_lettered" if last else "requeued")
            return
        await delivery.ack()
        log.info(
            "%s %s",
            outcome,
            envelope.type,
            extra={"event_id": str(envelope.event_id), "consumer": self.name},
        )
        self._on_outcome(envelope.type, outcome)

    async def _apply(self, envelope: Envelope, event: Any, handler: EventHandler[U]) -> str:
        event_id = str(envelope.event_id)
        async with self._uow_factory() as uow:
            if await uow.inbox.seen(self.name, event_id):
                return "duplicate"
            await handler(envelope, event, uow)
            uow.inbox.record(self.name, envelope)
            try:
                await uow.commit()
            except IntegrityError:
                # Another delivery of the same event committed first (a competing consumer).
                await uow.rollback()
                async with self._uow_factory() as check:
                    if await check.inbox.seen(self.name, event_id):
                        return "duplicate"
                raise
        return "consumed"

    async def subscribe(self, transport: Transport, queue: str, prefetch: int = 10) -> Subscription:
        return await transport.consume(queue, self, prefetch)
