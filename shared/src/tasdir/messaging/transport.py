"""What the services need from a message broker, whichever one runs: RabbitMQ or in-process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tasdir.contracts import Envelope
from tasdir.db.tables import OutboxFields

# AMQP header values: strings, numbers, booleans, lists and tables of them.
Header = Any
Headers = dict[str, Header]


class TransportError(Exception):
    """Base of the publish errors."""


class TransportUnavailable(TransportError):
    """The broker cannot be reached now. Nothing is wrong with the message: retry it later."""


class Unroutable(TransportError):
    """No queue is bound for the routing key: the broker returned the `mandatory` message."""


class PublishRejected(TransportError):
    """The broker refused this message (a negative confirm)."""


@dataclass(frozen=True)
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str
    correlation_id: str
    headers: Headers = field(default_factory=dict)

    @classmethod
    def build(
        cls, routing_key: str, body: str, event_id: str, correlation_id: str, **headers: Header
    ) -> OutgoingMessage:
        """The message of one event; the correlation id also travels as a header."""
        return cls(
            routing_key,
            body.encode(),
            event_id,
            correlation_id,
            {"x-correlation-id": correlation_id, **headers},
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> OutgoingMessage:
        return cls.build(
            envelope.type,
            envelope.model_dump_json(),
            str(envelope.event_id),
            envelope.correlation_id,
        )

    @classmethod
    def from_outbox(cls, row: OutboxFields, **headers: Header) -> OutgoingMessage:
        """The message of a stored outbox row (the relay, `republish`)."""
        return cls.build(row.event_type, row.body, row.event_id, row.correlation_id, **headers)


class Delivery(Protocol):
    """One delivery of a message to a consumer. Exactly one of the three settles it."""

    @property
    def body(self) -> bytes: ...

    @property
    def routing_key(self) -> str: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def delivery_count(self) -> int:
        """How many times this message was returned to the queue before this delivery."""
        ...

    async def ack(self) -> None: ...

    async def requeue(self) -> None:
        """Return the message as failed: the queue's delivery limit decides about the DLQ."""
        ...

    async def dead_letter(self) -> None:
        """Reject without requeue: straight to the queue's DLQ."""
        ...


DeliveryHandler = Callable[[Delivery], Awaitable[None]]


class Subscription(Protocol):
    async def cancel(self) -> None: ...


class Publisher(Protocol):
    async def publish(self, message: OutgoingMessage) -> None:
        """Return once the broker has confirmed. Raise `Unroutable`, `PublishRejected` or
        `TransportUnavailable`."""
        ...


class Transport(Publisher, Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    def is_connected(self) -> bool: ...

    async def declare_topology(self) -> None:
        """Declare the exchanges, queues, DLQs and bindings of `topology.TOPOLOGY`."""
        ...

    async def publish(self, message: OutgoingMessage) -> None:
        """Return once the broker has confirmed. Raise `Unroutable`, `PublishRejected` or
        `TransportUnavailable`."""
        ...

    async def send_to_queue(self, queue: str, message: OutgoingMessage) -> None:
        """Put a message straight into one queue (the DLQ tool's replay)."""
        ...

    async def consume(
        self, queue: str, handler: DeliveryHandler, prefetch: int
    ) -> Subscription: ...

    async def get(self, queue: str) -> Delivery | None:
        """Take one message without a consumer (the DLQ tool); None when the queue is empty."""
        ...
