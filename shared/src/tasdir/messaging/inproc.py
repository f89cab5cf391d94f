"""The in-process bus of the embedded mode: RabbitMQ's semantics, without RabbitMQ.

It keeps what the services rely on: topic routing with `*` and `#`, `mandatory` publishes that
raise when nothing is bound, redelivery of requeued messages, the delivery limit and the DLQ,
a bounded number of unsettled deliveries per consumer. With `chaos=Chaos(...)` it also shuffles
and duplicates deliveries, so that the embedded mode never hides an ordering or idempotency bug
that a real broker would expose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass, field

from tasdir.messaging.topology import TOPOLOGY, ServiceQueue, topic_matches
from tasdir.messaging.transport import (
    Delivery,
    DeliveryHandler,
    Headers,
    OutgoingMessage,
    TransportUnavailable,
    Unroutable,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chaos:
    """Deliver in a random order (among what is queued) and duplicate some deliveries."""

    shuffle: bool = True
    duplicate_rate: float = 0.2
    seed: int | None = None


@dataclass
class _Message:
    body: bytes
    routing_key: str
    headers: Headers
    delivery_count: int = 0


@dataclass
class _Queue:
    name: str
    bindings: tuple[str, ...] = ()
    delivery_limit: int | None = None
    dead_letter_to: str | None = None
    messages: deque[_Message] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, message: _Message) -> None:
        self.messages.append(message)
        self.ready.set()


class InProcessDelivery:
    def __init__(self, bus: InProcessBus, queue: _Queue, message: _Message) -> None:
        self._bus = bus
        self._queue = queue
        self._message = message
        self.settled = asyncio.Event()

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def routing_key(self) -> str:
        return self._message.routing_key

    @property
    def headers(self) -> Headers:
        return {**self._message.headers, "x-delivery-count": self._message.delivery_count}

    @property
    def delivery_count(self) -> int:
        return self._message.delivery_count

    def _settle(self) -> bool:
        if self.settled.is_set():
            return False
        self.settled.set()
        return True

    async def ack(self) -> None:
        self._settle()

    async def requeue(self) -> None:
        if self._settle():
            self._bus._return(self._queue, self._message)

    async def dead_letter(self) -> None:
        if self._settle():
            self._bus._dead_letter(self._queue, self._message, reason="rejected")


class _Subscription:
    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def cancel(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class InProcessBus:
    def __init__(
        self, *, topology: tuple[ServiceQueue, ...] = TOPOLOGY, chaos: Chaos | None = None
    ) -> None:
        self._topology = topology
        self._chaos = chaos
        self._random = random.Random(chaos.seed if chaos else None)
        self._queues: dict[str, _Queue] = {}
        self._closed = False

    async def connect(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True

    def is_connected(self) -> bool:
        return not self._closed

    async def declare_topology(self) -> None:
        for spec in self._topology:
            self._queues.setdefault(spec.dlq_name, _Queue(spec.dlq_name))
            if spec.name not in self._queues:
                self._queues[spec.name] = _Queue(
                    spec.name,
                    bindings=spec.bindings,
                    delivery_limit=spec.delivery_limit,
                    dead_letter_to=spec.dlq_name,
                )

    def _queue(self, name: str) -> _Queue:
        try:
            return self._queues[name]
        except KeyError:
            raise KeyError(f"no queue {name!r}: declare the topology first") from None

    def _copies(self) -> int:
        if self._chaos and self._random.random() < self._chaos.duplicate_rate:
            return 2
        return 1

    async def publish(self, message: OutgoingMessage) -> None:
        if self._closed:
            raise TransportUnavailable("bus closed")
        targets = [
            queue
            for queue in self._queues.values()
            if any(topic_matches(pattern, message.routing_key) for pattern in queue.bindings)
        ]
        if not targets:
            raise Unroutable(f"no queue bound for {message.routing_key!r}")
        for queue in targets:
            for _ in range(self._copies()):
                queue.put(_Message(message.body, message.routing_key, dict(message.headers)))

    async def send_to_queue(self, queue: str, message: OutgoingMessage) -> None:
        if self._closed:
            raise TransportUnavailable("bus closed")
        self._queue(queue).put(_Message(message.body, message.routing_key, dict(message.headers)))

    def _take(self, queue: _Queue) -> _Message:
        if self._chaos and self._chaos.shuffle and len(queue.messages) > 1:
            index = self._random.randrange(len(queue.messages))
            queue.messages.rotate(-index)
            message = queue.messages.popleft()
            queue.messages.rotate(index)
        else:
            message = queue.messages.popleft()
        if not queue.messages:
            queue.ready.clear()
        return message

    def _return(self, queue: _Queue, message: _Message) -> None:
        message.delivery_count += 1
        if queue.delivery_limit is not None and message.delivery_count > queue.delivery_limit:
            self._dead_letter(queue, message, reason="delivery_limit")
        else:
            queue.put(message)

    def _dead_letter(self, queue: _Queue, message: _Message, *, reason: str) -> None:
        if queue.dead_letter_to is None:
            log.warning("dropping a message dead-lettered from %s: no DLQ", queue.name)
            return
        headers = {
            **message.headers,
            "x-first-death-queue": queue.name,
            "x-first-death-reason": reason,
        }
        self._queue(queue.dead_letter_to).put(_Message(message.body, message.routing_key, headers))

    async def consume(self, queue: str, handler: DeliveryHandler, prefetch: int) -> _Subscription:
        target = self._queue(queue)
        in_flight = asyncio.Semaphore(prefetch)
        tasks: set[asyncio.Task[None]] = set()

        async def deliver(delivery: InProcessDelivery) -> None:
            try:
                await handler(delivery)
            except Exception:
                log.exception("handler raised on %s", queue)
            finally:
                # Like a consumer whose channel closed with the delivery unsettled.
                await delivery.requeue()
                in_flight.release()

        async def pump() -> None:
            while True:
                await in_flight.acquire()
                while not target.messages:
                    await target.ready.wait()
                delivery = InProcessDelivery(self, target, self._take(target))
                task = asyncio.create_task(deliver(delivery))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        async def run() -> None:
            try:
                await pump()
            finally:
                for task in list(tasks):
                    task.cancel()

        return _Subscription(asyncio.create_task(run()))

    async def get(self, queue: str) -> Delivery | None:
        target = self._queue(queue)
        if not target.messages:
            return None
        return InProcessDelivery(self, target, self._take(target))

    async def queue_depth(self, queue: str) -> int:
        return len(self._queue(queue).messages)
