"""The RabbitMQ transport on aio-pika: robust connections, confirms, `mandatory`, quorum queues."""

from __future__ import annotations

import logging
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError

from tasdir.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    TOPOLOGY,
    ServiceQueue,
)
from tasdir.messaging.transport import (
    Delivery,
    DeliveryHandler,
    Headers,
    OutgoingMessage,
    PublishRejected,
    TransportUnavailable,
    Unroutable,
)

log = logging.getLogger(__name__)


class RabbitDelivery:
    def __init__(self, message: AbstractIncomingMessage) -> None:
        self._message = message

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def routing_key(self) -> str:
        return self._message.routing_key or ""

    @property
    def headers(self) -> Headers:
        return dict(self._message.headers or {})

    @property
    def delivery_count(self) -> int:
        count = (self._message.headers or {}).get("x-delivery-count", 0)
        return int(count) if isinstance(count, int) else 0

    async def _settle(self, action: str, **kwargs: Any) -> None:
        try:
            await getattr(self._message, action)(**kwargs)
        except CONNECTION_EXCEPTIONS as exc:
            # The channel died under us: the broker redelivers the message, the inbox dedupes.
            log.warning("could not %s a delivery: %s", action, exc)

    async def ack(self) -> None:
        await self._settle("ack")

    async def requeue(self) -> None:
        # `basic.reject` with requeue, not `basic.nack`: from RabbitMQ 4.3 only a reject counts
        # as a failed delivery (rabbitmq-server#15387), so only it moves the message towards the
        # quorum queue's delivery limit. On 3.x and 4.0-4.2 both count.
        await self._settle("reject", requeue=True)

    async def dead_letter(self) -> None:
        await self._settle("reject", requeue=False)


class RabbitSubscription:
    def __init__(self, channel: AbstractChannel, queue: AbstractQueue, tag: str) -> None:
        self._channel = channel
        self._queue = queue
        self._tag = tag

    async def cancel(self) -> None:
        try:
            await self._queue.cancel(self._tag)
        finally:
            await self._channel.close()


class RabbitTransport:
    """One robust connection per process; a confirming publisher channel; a channel per consumer.

    After the broker restarts or the connection is cut, aio-pika reconnects and restores the
    channels and consumers. A publish that fails meanwhile raises `TransportUnavailable`; the
    outbox relay retries it, so nothing is lost.
    """

    def __init__(
        self,
        url: str,
        *,
        connection_name: str = "tasdir",
        topology: tuple[ServiceQueue, ...] = TOPOLOGY,
        publish_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._connection_name = connection_name
        self._topology = topology
        self._publish_timeout = publish_timeout
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def connect(self) -> None:
        if self._connection is not None:
            return
        self._connection = await aio_pika.connect_robust(
            self._url,
            client_properties={"connection_name": self._connection_name},
            reconnect_interval=1.0,
        )
        self._publisher = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await self._publisher.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("transport not connected")
        return self._connection

    def is_connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def declare_topology(self) -> None:
        async with self.connection.channel() as channel:
            events = await channel.declare_exchange(
                EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            dead_letters = await channel.declare_exchange(
                DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
            )
            for spec in self._topology:
                dlq = await channel.declare_queue(
                    spec.dlq_name, durable=True, arguments=spec.dlq_arguments()
                )
                await dlq.bind(dead_letters, routing_key=spec.name)
                queue = await channel.declare_queue(
                    spec.name, durable=True, arguments=spec.arguments()
                )
                for pattern in spec.bindings:
                    await queue.bind(events, routing_key=pattern)

    def _message(self, message: OutgoingMessage) -> aio_pika.Message:
        return aio_pika.Message(
            body=message.body,
            message_id=message.message_id,
            correlation_id=message.correlation_id or None,
            headers=message.headers,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=message.routing_key,
        )

    async def _publish(self, exchange: AbstractExchange | None, key: str, msg: Any) -> None:
        if exchange is None:
            raise TransportUnavailable("transport not connected")
        try:
            await exchange.publish(
                msg, routing_key=key, mandatory=True, timeout=self._publish_timeout
            )
        except PublishError as exc:  # a subclass of DeliveryError: test it first
            raise Unroutable(f"no queue bound for {key!r}") from exc
        except DeliveryError as exc:
            raise PublishRejected(f"broker refused {key!r}: {exc}") from exc
        except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
            raise TransportUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def publish(self, message: OutgoingMessage) -> None:
        await self._publish(self._exchange, message.routing_key, self._message(message))

    async def send_to_queue(self, queue: str, message: OutgoingMessage) -> None:
        if self._publisher is None:
            raise TransportUnavailable("transport not connected")
        await self._publish(self._publisher.default_exchange, queue, self._message(message))

    def _spec(self, queue: str) -> ServiceQueue | None:
        for spec in self._topology:
            if queue in (spec.name, spec.dlq_name):
                return spec
        return None

    async def _queue(self, channel: AbstractChannel, name: str) -> AbstractQueue:
        spec = self._spec(name)
        if spec is None:
            return await channel.get_queue(name, ensure=True)
        arguments = spec.arguments() if name == spec.name else spec.dlq_arguments()
        return await channel.declare_queue(name, durable=True, arguments=arguments)

    async def consume(
        self, queue: str, handler: DeliveryHandler, prefetch: int
    ) -> RabbitSubscription:
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        amqp_queue = await self._queue(channel, queue)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handler(RabbitDelivery(message))

        tag = await amqp_queue.consume(on_message, no_ack=False)
        return RabbitSubscription(channel, amqp_queue, tag)

    async def get(self, queue: str) -> Delivery | None:
        channel = await self.connection.channel()
        amqp_queue = await self._queue(channel, queue)
        message = await amqp_queue.get(no_ack=False, fail=False)
        if message is None:
            await channel.close()
            return None
        return _ChannelBoundDelivery(message, channel)

    async def queue_depth(self, queue: str) -> int:
        async with self.connection.channel() as channel:
            declared = await self._queue(channel, queue)
            return declared.declaration_result.message_count or 0


class _ChannelBoundDelivery(RabbitDelivery):
    """A `basic.get` delivery: its channel closes once it is settled."""

    def __init__(self, message: AbstractIncomingMessage, channel: AbstractChannel) -> None:
        super().__init__(message)
        self._channel = channel

    async def _settle(self, action: str, **kwargs: Any) -> None:
        try:
            await super()._settle(action, **kwargs)
        finally:
            await self._channel.close()


__all__ = ["RabbitDelivery", "RabbitTransport"]
