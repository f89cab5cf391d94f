"""The AsyncAPI 3.0 document of the integration events, generated from the contracts and the
broker topology (docs/events.md#the-asyncapi-document).

- A **channel** per event type: its address is the routing key (the type) on the durable topic
  exchange `tasdir.events`, with the AMQP 0-9-1 channel binding that says so.
- A **message** per event type (`components/messages/<type>`): the body is the JSON envelope
  (`components/schemas/Envelope`) whose `type` is that type and whose `payload` is the event
  model's JSON schema (serialization mode: what producers write, amounts as strings); the AMQP
  headers are `components/schemas/AmqpHeaders`.
- **Operations**: `<service>.send.<type>` for the producer (the service that the type's first
  word names) and `<service>.receive.<type>` for each service whose queue a binding of the
  topology routes the type to; `x-tasdir-queue` gives that queue, its bindings and arguments.

Every API serves it at `/asyncapi.json`; `docs/asyncapi.json` is a copy kept in sync by a unit
test. Regenerate that copy with `.venv/bin/python -m tasdir.asyncapi > docs/asyncapi.json`.
The output depends only on the code: the same registry and topology give the same document.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tasdir.contracts import Envelope, EventRegistry, IntegrationEvent, registry
from tasdir.json_types import JsonObject, JsonValue
from tasdir.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    TOPOLOGY,
    ServiceQueue,
    topic_matches,
)
from tasdir.settings import Settings

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
CONTENT_TYPE = "application/json"
SERVER = "rabbitmq"
_SCHEMAS = "#/components/schemas/"
ENVELOPE_SCHEMA = "Envelope"
HEADERS_SCHEMA = "AmqpHeaders"
# The envelope's fields, as docs/events.md#the-envelope describes them.
ENVELOPE_FIELDS = {
    "event_id": "Unique per event; the inbox deduplicates on it, and replays keep it. Also the "
    "AMQP `message_id`.",
    "type": "`<service>.<aggregate>.<event>.v<N>`: the event type, also the routing key and the "
    "AMQP `type`.",
    "occurred_at": "When the event was written to the outbox, in UTC.",
    "producer": "The service that wrote it.",
    "correlation_id": "The id of the HTTP request (or event) that started the work. Also the "
    "AMQP `correlation_id` and the header `x-correlation-id`.",
    "causation_id": "The `event_id` of the event being handled when this one was raised; null "
    "when an HTTP request raised it.",
    "aggregate_id": "The id of the aggregate the event is about.",
    "aggregate_version": "Counts that aggregate's events: 1, 2, 3... Consumers order an "
    "aggregate's events by it.",
    "payload": "The full snapshot of the aggregate after the change, never a delta; the "
    "message's event model gives its schema.",
}
_HEADERS: JsonObject = {
    "type": "object",
    "description": "The AMQP headers the services set. RabbitMQ adds its own on the way "
    "(`x-death` on a dead letter, `x-delivery-count` on a redelivery from a quorum queue).",
    "properties": {
        "x-correlation-id": {
            "type": "string",
            "description": "The envelope's `correlation_id`.",
        },
        "x-republished": {
            "type": "boolean",
            "const": True,
            "description": "Set on a replay from the producer's outbox "
            "(`tasdir outbox republish`).",
        },
        "x-replayed-from-dlq": {
            "type": "boolean",
            "const": True,
            "description": "Set on a dead letter moved back into its queue (`tasdir dlq replay`).",
        },
    },
    "required": ["x-correlation-id"],
}


def asyncapi_document(
    events: EventRegistry = registry, topology: tuple[ServiceQueue, ...] = TOPOLOGY
) -> JsonObject:
    """The AsyncAPI 3.0.0 document of `events` on `topology`, as a JSON object."""
    types = events.types()
    models = {event_type: events.model_for(event_type) for event_type in types}
    channels: JsonObject = {}
    operations: JsonObject = {}
    messages: JsonObject = {}
    for event_type, model in models.items():
        message_key = model.__name__
        channels[event_type] = _channel(event_type, message_key)
        messages[event_type] = _message(event_type, model)
        producer = event_type.split(".")[0]
        operations[_operation_id(producer, "send", event_type)] = _send(
            event_type, message_key, producer
        )
        for queue in topology:
            patterns = [p for p in queue.bindings if topic_matches(p, event_type)]
            if patterns:
                operations[_operation_id(queue.service, "receive", event_type)] = _receive(
                    event_type, message_key, queue, patterns
                )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Tasdir integration events",
            "version": "0.1.0",
            "description": "The events that Tasdir's services exchange through RabbitMQ. Every "
            f"event is published on the durable topic exchange `{EVENTS_EXCHANGE}` with its "
            "type as the routing key; each service consumes from its own durable quorum queue "
            f"`<service>.events`, which dead-letters through `{DEAD_LETTER_EXCHANGE}` into "
            "`<service>.events.dlq`. Every message body is a JSON envelope whose `payload` is "
            "the full snapshot of one aggregate. Generated from `tasdir.contracts` and "
            "`tasdir.messaging.topology`; docs/events.md tells the rest.",
        },
        "servers": {SERVER: _server()},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": _schemas(list(models.values())),
            "messages": messages,
        },
    }


def asyncapi_json(
    events: EventRegistry = registry, topology: tuple[ServiceQueue, ...] = TOPOLOGY
) -> str:
    """The document as `docs/asyncapi.json` holds it: indented, one final newline."""
    return json.dumps(asyncapi_document(events, topology), indent=2, ensure_ascii=False) + "\n"


@cache
def asyncapi_bytes() -> bytes:
    """What `/asyncapi.json` answers: `asyncapi_json()` of the catalogue, built once per process
    (the registry and the topology are complete once `tasdir.contracts` is imported)."""
    return asyncapi_json().encode()


def _server() -> JsonObject:
    default_url = Settings.model_fields["amqp_url"].default
    default_host = urlsplit(str(default_url)).netloc.rpartition("@")[2]
    return {
        "host": "{host}",
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "description": "The RabbitMQ broker of `TASDIR_AMQP_URL`, shared by every service.",
        "variables": {
            "host": {
                "default": default_host,
                "description": "The host and port of `TASDIR_AMQP_URL`.",
            }
        },
    }


def _operation_id(service: str, action: str, event_type: str) -> str:
    return f"{service}.{action}.{event_type}"


def _channel_ref(event_type: str) -> JsonObject:
    return {"$ref": f"#/channels/{event_type}"}


def _message_ref(event_type: str, message_key: str) -> JsonObject:
    return {"$ref": f"#/channels/{event_type}/messages/{message_key}"}


def _channel(event_type: str, message_key: str) -> JsonObject:
    return {
        "address": event_type,
        "title": event_type,
        "description": f"The routing key `{event_type}` on the topic exchange `{EVENTS_EXCHANGE}`.",
        "messages": {message_key: {"$ref": f"#/components/messages/{event_type}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": EVENTS_EXCHANGE,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _message(event_type: str, model: type[IntegrationEvent]) -> JsonObject:
    own_doc = model.__dict__.get("__doc__")
    summary = (
        " ".join(own_doc.split())
        if own_doc
        else f"The full snapshot of the {_subject(model, event_type)} after the change."
    )
    return {
        "name": model.__name__,
        "title": event_type,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "correlationId": {
            "description": "The envelope's `correlation_id`, also the AMQP `correlation_id`.",
            "location": "$message.payload#/correlation_id",
        },
        "headers": {"$ref": _SCHEMAS + HEADERS_SCHEMA},
        "payload": {
            "allOf": [
                {"$ref": _SCHEMAS + ENVELOPE_SCHEMA},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "payload": {"$ref": _SCHEMAS + model.__name__},
                    },
                },
            ]
        },
        "bindings": {
            "amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION},
        },
    }


def _subject(model: type[IntegrationEvent], event_type: str) -> str:
    """What the payload is a snapshot of: its `...Snapshot` base class (a provider's response is
    a `ReferralSnapshot`), else the aggregate the type names."""
    for base in model.__mro__[1:]:
        if base.__name__.endswith("Snapshot") and base.__name__ != "Snapshot":
            name = base.__name__.removesuffix("Snapshot")
            return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return event_type.split(".")[1].replace("_", " ")


def _send(event_type: str, message_key: str, producer: str) -> JsonObject:
    return {
        "action": "send",
        "channel": _channel_ref(event_type),
        "messages": [_message_ref(event_type, message_key)],
        "title": f"{producer} publishes {event_type}",
        "description": f"{producer} writes the event to its outbox in the transaction of the "
        f"change; its relay publishes it on `{EVENTS_EXCHANGE}`, persistent and mandatory "
        "(an event no queue is bound for comes back, and the relay retries, then parks it).",
        "tags": [{"name": producer}],
        "bindings": {
            "amqp": {
                "deliveryMode": 2,
                "mandatory": True,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
        "x-tasdir-service": producer,
    }


def _receive(
    event_type: str, message_key: str, queue: ServiceQueue, patterns: list[str]
) -> JsonObject:
    bound = ", ".join(f"`{pattern}`" for pattern in patterns)
    consumers = (
        "one active consumer at a time" if queue.single_active_consumer else "competing consumers"
    )
    arguments: dict[str, Any] = queue.arguments()
    return {
        "action": "receive",
        "channel": _channel_ref(event_type),
        "messages": [_message_ref(event_type, message_key)],
        "title": f"{queue.service} consumes {event_type}",
        "description": f"From its queue `{queue.name}`, bound to `{EVENTS_EXCHANGE}` with "
        f"{bound}; {consumers}. A message it fails to handle is returned, and dead-lettered "
        f"to `{queue.dlq_name}` once returned more than {queue.delivery_limit} times; one "
        "that is not an envelope of the catalogue goes there at once.",
        "tags": [{"name": queue.service}],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        "x-tasdir-service": queue.service,
        "x-tasdir-queue": {
            "name": queue.name,
            "durable": True,
            "bindings": list(patterns),
            "arguments": arguments,
            "deadLetterQueue": queue.dlq_name,
        },
    }


def _schemas(models: list[type[IntegrationEvent]]) -> JsonObject:
    """The event models, the models they use and the envelope, as `components/schemas`."""
    documented: list[type[BaseModel]] = [*models, Envelope]
    _, top = models_json_schema(
        [(model, "serialization") for model in documented],
        ref_template=_SCHEMAS + "{model}",
    )
    definitions: dict[str, JsonValue] = dict(top["$defs"])
    envelope = definitions[ENVELOPE_SCHEMA]
    assert isinstance(envelope, dict)
    properties = envelope["properties"]
    assert isinstance(properties, dict)
    envelope["description"] = (
        "Every message body: one JSON envelope. `type` names the event; `payload` is its snapshot."
    )
    for name, field in properties.items():
        assert isinstance(field, dict)
        field["description"] = ENVELOPE_FIELDS[name]
    # `Envelope.to_bytes` writes every field, and the envelope has had these fields from the
    # first event on: each is always there (`causation_id` as null when there is none).
    envelope["required"] = list(properties)
    definitions[HEADERS_SCHEMA] = _HEADERS
    return {name: definitions[name] for name in sorted(definitions)}


if __name__ == "__main__":
    print(asyncapi_json(), end="")
