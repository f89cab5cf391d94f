"""The event consumer: parse, dedupe through the inbox, handle in one transaction, then ack.

- An unparseable message is dead-lettered at once: no retry can make it readable.
- A handler error rolls back and returns the message *with* requeue (`basic.reject`, which
  every RabbitMQ version counts as a failed delivery), so a passing fault (a database hiccup)
  is retried, and the quorum queue's delivery limit dead-letters a message that keeps failing.
- The inbox row is written in the handler's transaction: a redelivery after a lost ack, or a
  duplicate, finds it and is acked without being applied again.

Batches. The deliveries that wait while one is being applied (up to the prefetch, and at most
`max_batch`) are applied together, in the order received, in one transaction with their inbox
rows, and acked once it has committed: one begin, one inbox lookup, one inbox insert and one
commit for the batch instead of for each event. A batch never changes what happens to a
delivery on its own:
- a handler that raises a plain error is that event's failure: its delivery is requeued (one
  failed delivery, as alone), and the rest of the batch is applied again without it;
- a database error, a commit that fails, or a failing batch form (`Batched.many`) could come
  from any event of the batch (an aborted transaction, a competing consumer's inbox row):
  every delivery of the batch is then applied alone, in its own transaction, as if there had
  been no batch.
So a poison message is requeued and dead-lettered after the delivery limit exactly as before,
and never takes the others with it. A crash between the commit and the acks redelivers the
batch, and the inbox turns every redelivery into a duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError

from tasdir.contracts import ContractError, Envelope, IntegrationEvent, decode_envelope
from tasdir.correlation import bind
from tasdir.db.uow import UnitOfWork
from tasdir.messaging.transport import Delivery, Subscription, Transport

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)
EventHandler = Callable[[Envelope, Any, U], Awaitable[None]]
# A handler's form for several events in one transaction: (envelope, event) pairs in order.
BatchHandler = Callable[[Sequence[tuple[Envelope, Any]], U], Awaitable[None]]
DEFAULT_MAX_BATCH = 100


@dataclass
class _Waiting:
    """A delivery handed to the consumer, until a batch has settled it (or given up on it)."""

    delivery: Delivery
    done: bool = False


@dataclass(frozen=True)
class _Work(Generic[U]):
    """A readable delivery of an event this consumer handles."""

    delivery: Delivery
    envelope: Envelope
    event: IntegrationEvent
    handler: EventHandler[U]

    @property
    def event_id(self) -> str:
        return str(self.envelope.event_id)

    def bind(self) -> None:
        bind(self.envelope.correlation_id, self.event_id)


class _HandlerFailed(Exception):
    """The handler of the batch's `index`-th event raised `error` (`index` None: a handler
    of several events)."""

    def __init__(self, index: int | None, error: Exception) -> None:
        super().__init__(f"the handler of event {index} of the batch failed: {error}")
        self.index = index
        self.error = error


def _blamed(error: Exception) -> int | None:
    """The index of the event whose own failure failed the batch: its handler raised, and
    not a database error, which may come from an earlier event of the same transaction."""
    if isinstance(error, _HandlerFailed) and not isinstance(error.error, DBAPIError):
        return error.index
    return None


@dataclass(frozen=True)
class Batched(Generic[U]):
    """A handler with a form for several events at once (`many`), which a batch calls with
    the consecutive events that this handler takes, so that it can write them together (one
    `VersionedProjection.apply_events`, say). A delivery applied alone goes to `one`. If `many`
    fails, no event is blamed: each is applied alone. `many` runs with the correlation id of
    the run's first event bound; it binds each event's own where it writes per event."""

    one: EventHandler[U]
    many: BatchHandler[U]

    async def __call__(self, envelope: Envelope, event: Any, uow: U) -> None:
        await self.one(envelope, event, uow)


async def _run_handler(
    handler: EventHandler[U], run: Sequence[tuple[int, _Work[U]]], uow: U
) -> None:
    """Apply a run of consecutive events of one handler in the batch's transaction."""
    if isinstance(handler, Batched) and len(run) > 1:
        run[0][1].bind()
        try:
            await handler.many([(item.envelope, item.event) for _, item in run], uow)
        except Exception as exc:
            raise _HandlerFailed(None, exc) from exc
        return
    for index, item in run:
        item.bind()
        try:
            await handler(item.envelope, item.event, uow)
        except Exception as exc:
            raise _HandlerFailed(index, exc) from exc


class EventConsumer(Generic[U]):
    def __init__(
        self,
        name: str,
        uow_factory: Callable[[], U],
        handlers: Mapping[str, EventHandler[U]],
        *,
        on_outcome: Callable[[str, str], None] | None = None,
        delivery_limit: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.name = name
        self._uow_factory = uow_factory
        self._handlers = dict(handlers)
        self._on_outcome = on_outcome or (lambda _type, _outcome: None)
        # The queue's limit: a failure on the delivery that reaches it is a dead-lettering.
        self._delivery_limit = delivery_limit
        self.max_batch = max(1, max_batch)
        # One batch at a time, in the order received: projections apply in order.
        self._serial = asyncio.Lock()
        self._waiting: list[_Waiting] = []

    async def __call__(self, delivery: Delivery) -> None:
        """Settle `delivery`. Whoever holds the lock applies every delivery waiting by then
        (group commit): the others find theirs settled when they get the lock."""
        waiting = _Waiting(delivery)
        self._waiting.append(waiting)
        while not waiting.done:
            async with self._serial:
                if waiting.done:
                    return
                # Let the deliveries already read from the socket join this batch.
                await asyncio.sleep(0)
                batch = self._waiting[: self.max_batch]
                del self._waiting[: len(batch)]
                try:
                    await self._handle([w.delivery for w in batch])
                finally:
                    for taken in batch:
                        taken.done = True

    async def _handle(self, deliveries: Sequence[Delivery]) -> None:
        work = [item for delivery in deliveries if (item := await self._readable(delivery))]
        while len(work) > 1:
            try:
                outcomes = await self._apply_together(work)
            except Exception as exc:
                index = _blamed(exc)
                if index is None:
                    # Any event of the batch may be the cause: each is applied alone below.
                    log.warning("a batch of %d failed (%s); applying each alone", len(work), exc)
                    break
                blamed = work.pop(index)
                blamed.bind()
                assert isinstance(exc, _HandlerFailed)
                await self._failed(blamed, exc.error)
                continue
            for item, outcome in zip(work, outcomes, strict=True):
                await self._settled(item, outcome)
            return
        for item in work:
            await self._apply_alone(item)

    async def _readable(self, delivery: Delivery) -> _Work[U] | None:
        """The delivery's event and handler; or None, the delivery settled here (unreadable,
        invalid or of no interest to this consumer)."""
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
            return None
        bind(envelope.correlation_id, str(envelope.event_id))
        handler = self._handlers.get(envelope.type)
        if handler is None:
            await delivery.ack()  # bound by a wildcard, not of interest here
            self._on_outcome(envelope.type, "ignored")
            return None
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
            return None
        return _Work(delivery, envelope, event, handler)

    async def _apply_together(self, work: Sequence[_Work[U]]) -> list[str]:
        async with self._uow_factory() as uow:
            seen = await uow.inbox.seen_among(self.name, [item.event_id for item in work])
            outcomes: list[str] = []
            todo: list[tuple[int, _Work[U]]] = []
            for index, item in enumerate(work):
                if item.event_id in seen:  # applied before, or twice in this batch
                    outcomes.append("duplicate")
                    continue
                seen.add(item.event_id)
                todo.append((index, item))
                outcomes.append("consumed")
            for handler, run in itertools.groupby(todo, key=lambda pair: pair[1].handler):
                await _run_handler(handler, list(run), uow)
            uow.inbox.record_all(self.name, [item.envelope for _, item in todo])
            await uow.commit()
        return outcomes

    async def _apply_alone(self, item: _Work[U]) -> None:
        item.bind()
        try:
            outcome = await self._apply(item)
        except Exception as exc:
            await self._failed(item, exc)
            return
        await self._settled(item, outcome)

    async def _settled(self, item: _Work[U], outcome: str) -> None:
        item.bind()
        await item.delivery.ack()
        log.info(
            "%s %s",
            outcome,
            item.envelope.type,
            extra={"event_id": item.event_id, "consumer": self.name},
        )
        self._on_outcome(item.envelope.type, outcome)

    async def _failed(self, item: _Work[U], error: Exception) -> None:
        delivery = item.delivery
        log.error(
            "handler failed; requeueing",
            exc_info=error,
            extra={
                "event_id": item.event_id,
                "event_type": item.envelope.type,
                "delivery_count": delivery.delivery_count,
            },
        )
        await delivery.requeue()
        last = self._delivery_limit is not None and delivery.delivery_count >= self._delivery_limit
        self._on_outcome(item.envelope.type, "dead_lettered" if last else "requeued")

    async def _apply(self, item: _Work[U]) -> str:
        async with self._uow_factory() as uow:
            if await uow.inbox.seen(self.name, item.event_id):
                return "duplicate"
            await item.handler(item.envelope, item.event, uow)
            uow.inbox.record(self.name, item.envelope)
            try:
                await uow.commit()
            except IntegrityError:
                # Another delivery of the same event committed first (a competing consumer).
                await uow.rollback()
                async with self._uow_factory() as check:
                    if await check.inbox.seen(self.name, item.event_id):
                        return "duplicate"
                raise
        return "consumed"

    async def subscribe(self, transport: Transport, queue: str, prefetch: int = 10) -> Subscription:
        return await transport.consume(queue, self, prefetch)
