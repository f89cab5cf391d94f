"""The whole broker topology, declared from this one module by every service at start-up.

One durable topic exchange carries the events, routed by their `type`. Each service has one
durable quorum queue, with an explicit delivery limit and a dead-letter exchange that routes to
the service's own DLQ. Declaring is idempotent, so every process may do it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENTS_EXCHANGE = "tasdir.events"
DEAD_LETTER_EXCHANGE = "tasdir.dead-letter"
DEFAULT_DELIVERY_LIMIT = 5
# A queue's `x-` arguments, as the AMQP client takes them.
QueueArguments = dict[str, Any]


@dataclass(frozen=True)
class ServiceQueue:
    service: str
    bindings: tuple[str, ...]
    single_active_consumer: bool = False
    # A message is dead-lettered when it has been returned more than this many times,
    # so a handler that always fails sees it `delivery_limit + 1` times.
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

    @property
    def name(self) -> str:
        return f"{self.service}.events"

    @property
    def dlq_name(self) -> str:
        return f"{self.service}.events.dlq"

    def arguments(self) -> QueueArguments:
        arguments: QueueArguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            # At-least-once dead-lettering needs reject-publish; without a length limit the
            # overflow setting never triggers.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if self.single_active_consumer:
            arguments["x-single-active-consumer"] = True
        return arguments

    @staticmethod
    def dlq_arguments() -> QueueArguments:
        return {"x-queue-type": "quorum"}


TOPOLOGY: tuple[ServiceQueue, ...] = (
    ServiceQueue("exporters", bindings=("credit_products.provider.#", "matching.#")),
    # credit_products consumes no event yet; its queue exists so the topology is uniform.
    ServiceQueue("credit_products", bindings=()),
    # Matching applies catalogue and request events in order: one active consumer at a time.
    # It also takes its own deal-flow events: a review sends the referrals, and every step of
    # the deal notifies its parties.
    ServiceQueue(
        "matching",
        bindings=("exporters.#", "credit_products.#", "matching.#"),
        single_active_consumer=True,
    ),
)


def service_queue(service: str, topology: tuple[ServiceQueue, ...] = TOPOLOGY) -> ServiceQueue:
    for queue in topology:
        if queue.service == service:
            return queue
    raise KeyError(f"no queue for service {service!r}")


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


def rabbitmq_definitions(vhost: str = "/") -> dict[str, Any]:
    """The topology as a RabbitMQ definitions document, for brokers that load it at boot
    (`deploy/rabbitmq/definitions.json`). Services still declare it themselves at start-up."""
    common = {"vhost": vhost, "durable": True, "auto_delete": False}
    exchanges = [
        {"name": EVENTS_EXCHANGE, "type": "topic", **common, "internal": False, "arguments": {}},
        {
            "name": DEAD_LETTER_EXCHANGE,
            "type": "direct",
            **common,
            "internal": False,
            "arguments": {},
        },
    ]
    queues: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []

    def bind(source: str, queue: str, key: str) -> None:
        bindings.append(
            {
                "source": source,
                "destination": queue,
                "destination_type": "queue",
                "routing_key": key,
                "arguments": {},
                "vhost": vhost,
            }
        )

    for spec in TOPOLOGY:
        queues.append({"name": spec.dlq_name, **common, "arguments": spec.dlq_arguments()})
        queues.append({"name": spec.name, **common, "arguments": spec.arguments()})
        bind(DEAD_LETTER_EXCHANGE, spec.dlq_name, spec.name)
        for pattern in spec.bindings:
            bind(EVENTS_EXCHANGE, spec.name, pattern)
    return {
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
        "policies": [dead_letters_kept_policy(vhost)],
    }


def dead_letters_kept_policy(vhost: str = "/") -> dict[str, Any]:
    """RabbitMQ 4 gives every quorum queue a delivery limit of 20 unless told otherwise. A DLQ
    has nowhere to send a message past it, and the DLQ tool returns every message it only
    browsed, so twenty looks at a dead letter would drop it: this policy lifts the limit on the
    DLQs. (RabbitMQ 3 has no default limit and ignores the key.)"""
    return {
        "vhost": vhost,
        "name": "tasdir-dead-letters-kept",
        "pattern": r"^[a-z_]+\.events\.dlq$",
        "apply-to": "queues",
        "priority": 0,
        "definition": {"delivery-limit": -1},
    }
