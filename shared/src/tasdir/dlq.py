"""The dead-letter tool: list, show, replay or discard the messages in a service's DLQ.

    python -m tasdir.dlq list    <service> [--limit N]
    python -m tasdir.dlq show    <service> <message-id>
    python -m tasdir.dlq replay  <service> (<message-id> | --all)
    python -m tasdir.dlq discard <service> (<message-id> | --all)

It browses with `basic.get` on one channel and leaves unsettled whatever it does not act on,
so closing the channel returns those messages to the DLQ. A replayed message goes straight to
the service's own queue (not through the exchange), so no other consumer sees it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from tasdir.messaging.topology import ServiceQueue, service_queue
from tasdir.settings import get_settings


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
        headers: dict[str, Any] = dict(message.headers or {})
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

    def summary(self) -> dict[str, Any]:
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


@asynccontextmanager
async def open_dlq(service: str, amqp_url: str | None = None) -> AsyncIterator[DeadLetterQueue]:
    connection = await aio_pika.connect(amqp_url or get_settings().amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        yield DeadLetterQueue(channel, service_queue(service))
    finally:
        await connection.close()


async def run(args: argparse.Namespace, amqp_url: str | None = None) -> int:
    async with open_dlq(args.service, amqp_url) as dlq:
        limit = args.limit if args.command == "list" else 10_000
        taken = await dlq.browse(limit)
        if args.command == "list":
            for _message, letter in taken:
                print(json.dumps(letter.summary()))
            return 0
        chosen = [
            (message, letter)
            for message, letter in taken
            if args.all or letter.message_id == args.message_id
        ]
        if not chosen:
            print(f"no dead letter {args.message_id!r} in {dlq.spec.dlq_name}", file=sys.stderr)
            return 1
        for message, letter in chosen:
            if args.command == "show":
                body: Any
                try:
                    body = json.loads(letter.body)
                except ValueError:
                    body = letter.body.decode("utf-8", "replace")
                print(json.dumps({**letter.summary(), "body": body}, indent=2))
            elif args.command == "replay":
                await dlq.replay(message)
                print(f"replayed {letter.message_id} into {dlq.spec.name}")
            else:
                await message.ack()
                print(f"discarded {letter.message_id}")
        return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tasdir.dlq", description=__doc__)
    parser.add_argument("command", choices=["list", "show", "replay", "discard"])
    parser.add_argument("service", choices=["exporters", "credit_products", "matching"])
    parser.add_argument("message_id", nargs="?")
    parser.add_argument("--all", action="store_true", help="act on every dead letter")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args(argv)
    if args.command != "list" and not (args.all or args.message_id):
        parser.error(f"{args.command} needs a message id or --all")
    if args.command == "show" and args.all:
        parser.error("show takes one message id")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse())))
