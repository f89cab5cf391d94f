"""The AsyncAPI document (`tasdir.asyncapi`): valid against the official AsyncAPI 3.0.0 JSON
Schema (vendored in tests/data/asyncapi, see its README), one channel and one message per event
type of the registry and nothing else, the operations the topology implies, every reference
resolvable, real message bodies valid against their message, served at `/asyncapi.json`, and
`docs/asyncapi.json` in sync."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from support.events import exporter_event
from tasdir.api import create_app
from tasdir.asyncapi import asyncapi_bytes, asyncapi_document, asyncapi_json
from tasdir.contracts import Envelope, EventRegistry, IntegrationEvent, events, registry
from tasdir.messaging.topology import EVENTS_EXCHANGE, TOPOLOGY, ServiceQueue, topic_matches
from tasdir.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json"
COMMITTED = ROOT / "docs" / "asyncapi.json"
REGENERATE = ".venv/bin/python -m tasdir.asyncapi > docs/asyncapi.json"
Document = dict[str, Any]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="module")
def document() -> Document:
    return asyncapi_document()


def errors_of(validator: jsonschema.Draft7Validator, document: Document) -> list[str]:
    return [
        f"/{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in validator.iter_errors(document)
    ]


def test_the_document_is_valid_asyncapi_3_0_0(
    validator: jsonschema.Draft7Validator, document: Document
) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert errors_of(validator, document) == []


def _rename_an_action(document: Document) -> None:
    next(iter(document["operations"].values()))["action"] = "publish"  # AsyncAPI 2's verb


def _bind_an_exchange(document: Document) -> None:
    next(iter(document["channels"].values()))["bindings"]["amqp"]["is"] = "exchange"


def _misspell_a_field(document: Document) -> None:
    next(iter(document["components"]["messages"].values()))["contenttype"] = "application/json"


def _drop_the_title(document: Document) -> None:
    del document["info"]["title"]


@pytest.mark.parametrize(
    "breaking",
    [_rename_an_action, _bind_an_exchange, _misspell_a_field, _drop_the_title],
)
def test_the_schema_refuses_a_broken_document(
    validator: jsonschema.Draft7Validator,
    document: Document,
    breaking: Callable[[Document], None],
) -> None:
    broken = copy.deepcopy(document)
    breaking(broken)
    assert errors_of(validator, broken) != []


def test_it_lists_every_event_type_of_the_registry_and_nothing_else(document: Document) -> None:
    types = set(registry.types())
    assert set(document["channels"]) == types
    assert set(document["components"]["messages"]) == types
    sends = {
        operation["channel"]["$ref"].removeprefix("#/channels/")
        for operation in document["operations"].values()
        if operation["action"] == "send"
    }
    assert sends == types
    for event_type in types:
        model = registry.model_for(event_type)
        channel = document["channels"][event_type]
        assert channel["address"] == event_type
        assert channel["messages"] == {
            model.__name__: {"$ref": f"#/components/messages/{event_type}"}
        }
        message = document["components"]["messages"][event_type]
        assert message["contentType"] == "application/json"
        assert message["bindings"]["amqp"]["messageType"] == event_type
        payload = message["payload"]["allOf"][1]["properties"]
        assert payload["type"] == {"const": event_type}
        assert payload["payload"] == {"$ref": f"#/components/schemas/{model.__name__}"}


def test_a_registry_gets_its_own_types_only() -> None:
    own = EventRegistry()

    @own.register("exporters.widget.made.v1")
    class WidgetMade(IntegrationEvent):
        size: int

    document = asyncapi_document(own)
    assert list(document["channels"]) == ["exporters.widget.made.v1"]
    assert list(document["components"]["messages"]) == ["exporters.widget.made.v1"]
    assert sorted(document["operations"]) == [
        "exporters.send.exporters.widget.made.v1",
        "matching.receive.exporters.widget.made.v1",
    ]
    assert "WidgetMade" in document["components"]["schemas"]
    assert "ExporterRegistered" not in document["components"]["schemas"]


def test_every_channel_is_its_routing_key_on_the_durable_topic_exchange(
    document: Document,
) -> None:
    for channel in document["channels"].values():
        assert channel["bindings"]["amqp"] == {
            "is": "routingKey",
            "exchange": {
                "name": EVENTS_EXCHANGE,
                "type": "topic",
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            },
            "bindingVersion": "0.3.0",
        }


def receivers(document: Document) -> set[tuple[str, str]]:
    return {
        (op["x-tasdir-service"], op["channel"]["$ref"].removeprefix("#/channels/"))
        for op in document["operations"].values()
        if op["action"] == "receive"
    }


def test_each_type_is_received_by_every_service_whose_queue_binds_it(
    document: Document,
) -> None:
    expected = {
        (queue.service, event_type)
        for queue in TOPOLOGY
        for event_type in registry.types()
        if any(topic_matches(pattern, event_type) for pattern in queue.bindings)
    }
    assert receivers(document) == expected
    # The topology of docs/events.md, spelled out.
    assert ("matching", "exporters.exporter.registered.v1") in expected
    assert ("matching", "credit_products.product.published.v1") in expected
    assert ("exporters", "credit_products.provider.updated.v1") in expected
    assert ("exporters", "matching.offer.decided.v1") in expected
    assert ("exporters", "credit_products.product.published.v1") not in expected
    assert {service for service, _ in expected} == {"exporters", "matching"}


def test_a_receive_operation_names_its_queue_as_the_topology_declares_it(
    document: Document,
) -> None:
    matching = next(q for q in TOPOLOGY if q.service == "matching")
    operation = document["operations"]["matching.receive.exporters.exporter.registered.v1"]
    assert operation["x-tasdir-queue"] == {
        "name": "matching.events",
        "durable": True,
        "bindings": ["exporters.#"],
        "arguments": matching.arguments(),
        "deadLetterQueue": "matching.events.dlq",
    }
    assert "one active consumer at a time" in operation["description"]


def test_the_producer_is_the_service_its_type_names(document: Document) -> None:
    for operation_id, operation in document["operations"].items():
        if operation["action"] == "send":
            event_type = operation["channel"]["$ref"].removeprefix("#/channels/")
            assert operation["x-tasdir-service"] == event_type.split(".")[0]
            assert operation_id == f"{event_type.split('.')[0]}.send.{event_type}"
            assert operation["bindings"]["amqp"]["mandatory"] is True


def references(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(document: Document, reference: str) -> object:
    assert reference.startswith("#/"), reference
    node: object = document
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, reference
        node = node[part]
    return node


def test_every_reference_resolves_inside_the_document(document: Document) -> None:
    found = set(references(document))
    assert "#/components/schemas/Envelope" in found
    for reference in found:
        resolve(document, reference)


def test_each_operation_carries_messages_of_its_own_channel(document: Document) -> None:
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"]
        assert operation["messages"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel}/messages/")


def message_validator(document: Document, event_type: str, part: str) -> jsonschema.Validator:
    uri = "urn:tasdir:asyncapi"
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    schema = {"$ref": f"{uri}#/components/messages/{event_type}/{part}"}
    return jsonschema.Draft7Validator(
        schema,
        registry=Registry().with_resource(uri, resource),
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )


def wire(envelope: Envelope) -> Any:
    return json.loads(envelope.to_bytes())


def test_a_real_message_body_fits_its_message_and_no_other(document: Document) -> None:
    body = wire(exporter_event(events.ExporterRegistered))
    message_validator(document, "exporters.exporter.registered.v1", "payload").validate(body)
    assert not message_validator(document, "exporters.exporter.updated.v1", "payload").is_valid(
        body
    )
    broken = {**body, "payload": {**body["payload"], "status": "dormant"}}
    assert not message_validator(document, "exporters.exporter.registered.v1", "payload").is_valid(
        broken
    )


def test_a_provider_event_fits_its_message_with_its_headers(document: Document) -> None:
    provider_id = str(uuid4())
    event = events.ProviderRegistered(id=provider_id, name="Banque", kind="bank", country="MA")
    correlation_id = str(uuid4())
    envelope = Envelope.wrap(
        event,
        producer="credit_products",
        aggregate_id=provider_id,
        aggregate_version=1,
        correlation_id=correlation_id,
    )
    event_type = "credit_products.provider.registered.v1"
    message_validator(document, event_type, "payload").validate(wire(envelope))
    headers = message_validator(document, event_type, "headers")
    headers.validate({"x-correlation-id": correlation_id, "x-republished": True})
    assert not headers.is_valid({})


def test_the_document_is_deterministic() -> None:
    assert asyncapi_json() == asyncapi_json()
    assert asyncapi_document(registry, TOPOLOGY) == asyncapi_document()


def test_a_topology_without_consumers_gives_sends_only() -> None:
    lonely = (ServiceQueue("credit_products", bindings=()),)
    actions = {op["action"] for op in asyncapi_document(topology=lonely)["operations"].values()}
    assert actions == {"send"}


def test_the_committed_copy_is_the_generated_document() -> None:
    assert COMMITTED.read_text() == asyncapi_json(), (
        f"docs/asyncapi.json is out of date: regenerate it with `{REGENERATE}`"
    )


async def test_every_api_serves_it_publicly_and_outside_the_openapi_document() -> None:
    app = create_app("tasdir", [], Settings(environment="development"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/asyncapi.json")
        openapi = (await client.get("/openapi.json")).json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == asyncapi_bytes()
    assert response.json() == asyncapi_document()
    assert "/asyncapi.json" not in openapi["paths"]
