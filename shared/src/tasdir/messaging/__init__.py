"""Messaging: the topology, the transports (RabbitMQ and in-process), the outbox relay, the
consumer with its inbox."""

from tasdir.messaging.consumer import Batched, EventConsumer
from tasdir.messaging.inproc import Chaos, InProcessBus
from tasdir.messaging.rabbit import RabbitTransport
from tasdir.messaging.relay import OutboxRelay, RelayReport
from tasdir.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    TOPOLOGY,
    ServiceQueue,
    service_queue,
    topic_matches,
)
from tasdir.messaging.transport import (
    Delivery,
    OutgoingMessage,
    PublishRejected,
    Transport,
    TransportError,
    TransportUnavailable,
    Unroutable,
)

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "EVENTS_EXCHANGE",
    "TOPOLOGY",
    "Batched",
    "Chaos",
    "Delivery",
    "EventConsumer",
    "InProcessBus",
    "OutboxRelay",
    "OutgoingMessage",
    "PublishRejected",
    "RabbitTransport",
    "RelayReport",
    "ServiceQueue",
    "Transport",
    "TransportError",
    "TransportUnavailable",
    "Unroutable",
    "service_queue",
    "topic_matches",
]
