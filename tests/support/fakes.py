"""Fakes of the transport ports, for unit tests without a broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasdir.messaging.transport import (
    OutgoingMessage,
    PublishRejected,
    TransportUnavailable,
    Unroutable,
)


@dataclass
class FakeTransport:
    published: list[OutgoingMessage] = field(default_factory=list)
    unroutable: set[str] = field(default_factory=set)
    down: bool = False
    # The broker nacks every publish (a quorum queue electing its leader, say).
    rejecting: bool = False
    refused: int = 0

    async def publish(self, message: OutgoingMessage) -> None:
        if self.down:
            raise TransportUnavailable("broker away")
        if self.rejecting:
            self.refused += 1
            raise PublishRejected(f"nack for {message.routing_key}")
        if message.routing_key in self.unroutable:
            raise Unroutable(message.routing_key)
        self.published.append(message)


@dataclass
class FakeDelivery:
    body: bytes
    routing_key: str = "exporters.exporter.updated.v1"
    headers: dict[str, Any] = field(default_factory=dict)
    delivery_count: int = 0
    outcome: str | None = None

    async def ack(self) -> None:
        self.outcome = "ack"

    async def requeue(self) -> None:
        self.outcome = "requeue"

    async def dead_letter(self) -> None:
        self.outcome = "dead_letter"
