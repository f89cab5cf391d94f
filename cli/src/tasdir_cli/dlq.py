"""The dead-letter tool: list, show, replay or discard the messages in a service's DLQ.

    tasdir dlq list    <service> [--limit N]
    tasdir dlq show    <service> <message-id>
    tasdir dlq replay  <service> (<message-id> | --all)
    tasdir dlq discard <service> (<message-id> | --all)

It browses with `basic.get` on one channel and leaves unsettled whatever it does not act on,
so closing the channel returns those messages to the DLQ. A replayed message goes straight to
the service's own queue (not through the exchange), so no other consumer sees it twice.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from tasdir.messaging.topology import ServiceQueue, service_queue

Command = Literal["list", "show", "replay", "discard"]
COMMANDS: tuple[Command, ...] = ("list", "show", "replay", "discard")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    routing_key: str
    reason: str
    queue: str
    count: int
    body: bytes

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        headers: dict[str, object] = dict(message.headers or {})
        deaths = headers.get("x-death")
        first: dict[str, Any] = deaths[0] if isinstance(deaths, list) and deaths else {}
        keys = first.get("routing-keys") or [""]
        return cls(
            message_id=message.message_id or "",
            routing_key=str(message.type or keys[0]),
            reason=str(headers.get("x-first-death-reason", first.get("reason", ""))),
            queue=str(headers.get("x-first-death-queue", first.get("queue", ""))),
            count=int(first.get("count", 1)),
            body=message.body,
        )

    def summary(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "type": self.routing_key,
            "reason": self.reason,
            "queue": self.queue,
            "deaths": self.count,
            "bytes": len(self.body),
        }


class DeadLetterQueue:
    def __init__(self, channel: AbstractChannel, spec: ServiceQueue) -> None:
        self._channel = channel
        self.spec = spec

    async def browse(self, limit: int) -> list[tuple[AbstractIncomingMessage, DeadLetter]]:
        queue = await self._channel.declare_queue(
            self.spec.dlq_name, durable=True, arguments=self.spec.dlq_arguments()
        )
        taken: list[tuple[AbstractIncomingMessage, DeadLetter]] = []
        while len(taken) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            taken.append((message, DeadLetter.of(message)))
        return taken

    async def replay(self, message: AbstractIncomingMessage) -> None:
        replayed = aio_pika.Message(
            body=message.body,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers={
                key: value
                for key, value in (message.headers or {}).items()
                if not key.startswith("x-death") and not key.startswith("x-first-death")
            }
            | {"x-replayed-from-dlq": True},
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=message.type,
        )
        await self._channel.default_exchange.publish(replayed, routing_key=self.spec.name)
        await message.ack()


class BrokerUnreachable(Exception):
    """The broker does not accept the connection; the message says why."""


@asynccontextmanager
async def open_dlq(service: str, amqp_url: str) -> AsyncIterator[DeadLetterQueue]:
    try:
        connection = await aio_pika.connect(amqp_url)
    except CONNECTION_EXCEPTIONS as exc:
        raise BrokerUnreachable(str(exc) or type(exc).__name__) from exc
    try:
        channel = await connection.channel(publisher_confirms=True)
        yield DeadLetterQueue(channel, service_queue(service))
    finally:
        await connection.close()


async def run(
    command: Command,
    service: str,
    *,
    amqp_url: str,
    message_id: str | None = None,
    every: bool = False,
    limit: int = 100,
) -> int:
    """Carry out one command on `service`'s DLQ; the exit code. `every` is `--all`."""
    if command != "list" and not (every or message_id):
        raise ValueError(f"{command} needs a message id or --all")
    if command == "show" and every:
        raise ValueError("show takes one message id")
    async with open_dlq(service, amqp_url) as dlq:
        taken = await dlq.browse(limit if command == "list" else 10_000)
        if command == "list":
            for _message, letter in taken:
                print(json.dumps(letter.summary()))
            return 0
        chosen = [
            (message, letter)
            for message, letter in taken
            if every or letter.message_id == message_id
        ]
        if not chosen:
            what = "dead letters" if every else f"dead letter {message_id!r}"
            print(f"no {what} in {dlq.spec.dlq_name}", file=sys.stderr)
            return 1
        for message, letter in chosen:
            if command == "show":
                body: object
                try:
                    body = json.loads(letter.body)
                except ValueError:
                    body = letter.body.decode("utf-8", "replace")
                print(json.dumps({**letter.summary(), "body": body}, indent=2))
            elif command == "replay":
                await dlq.replay(message)
                print(f"replayed {letter.message_id} into {dlq.spec.name}")
            else:
                await message.ack()
                print(f"discarded {letter.message_id}")
        return 0


__all__ = ["COMMANDS", "BrokerUnreachable", "DeadLetter", "DeadLetterQueue", "open_dlq", "run"]
