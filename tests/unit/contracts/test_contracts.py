from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError
from support.events import exporter_event
from tasdir.contracts import (
    ContractError,
    Envelope,
    EventRegistry,
    IntegrationEvent,
    UnknownEventType,
    decode,
    events,
    registry,
)

CATALOGUE = (
    {f"exporters.exporter.{e}.v1" for e in ("registered", "updated", "deactivated")}
    | {
        f"exporters.financing_request.{e}.v1"
        for e in ("submitted", "amended", "withdrawn", "closed")
    }
    | {
        "exporters.consent.granted.v1",
        "exporters.consent.revoked.v1",
        "credit_products.provider.registered.v1",
        "credit_products.provider.updated.v1",
        "credit_products.product.published.v1",
        "credit_products.product.withdrawn.v1",
        "matching.match_set.proposed.v1",
        "matching.match_set.updated.v1",
        "matching.review.completed.v1",
        "matching.referral.sent.v1",
        "matching.provider_response.recorded.v1",
        "matching.offer.decided.v1",
    }
    # Beyond the design's minimum: the exporter's answer to a provider's question.
    | {"matching.referral.replied.v1"}
)


def test_the_registry_holds_exactly_the_design_catalogue() -> None:
    assert set(registry.types()) == CATALOGUE


def test_each_type_is_its_routing_key_and_names_its_aggregate() -> None:
    for event_type in registry.types():
        model = registry.model_for(event_type)
        service, aggregate, _event, version = event_type.split(".")
        assert model.event_type == event_type
        assert model.aggregate == aggregate
        assert version == "v1"
        assert service in {"exporters", "credit_products", "matching"}


def test_an_envelope_round_trips_through_bytes() -> None:
    envelope = exporter_event(events.ExporterRegistered, version=3)
    decoded, event = decode(envelope.to_bytes())
    assert decoded == envelope
    assert isinstance(event, events.ExporterRegistered)
    assert event.legal_name == "Atlas Agrumes SARL"


def test_consumers_ignore_unknown_fields() -> None:
    envelope = exporter_event()
    raw = json.loads(envelope.to_bytes())
    raw["added_later"] = True
    raw["payload"]["new_field"] = {"nested": 1}
    decoded, event = decode(json.dumps(raw).encode())
    assert decoded.event_id == envelope.event_id
    assert not hasattr(event, "new_field")


def test_events_are_frozen() -> None:
    envelope = exporter_event()
    with pytest.raises(ValidationError):
        envelope.aggregate_version = 9  # type: ignore[misc]


def test_occurred_at_is_stored_in_utc() -> None:
    envelope = exporter_event()
    local = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    moved = Envelope.model_validate({**envelope.model_dump(), "occurred_at": local})
    assert moved.occurred_at == local
    assert moved.occurred_at.tzinfo == UTC


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[]", b'{"type": "exporters.exporter.updated.v1"}'],
)
def test_unreadable_bodies_raise_a_contract_error(body: bytes) -> None:
    with pytest.raises(ContractError):
        decode(body)


def test_a_payload_that_misses_its_fields_is_a_contract_error() -> None:
    broken = exporter_event().model_copy(update={"payload": {"id": str(uuid4())}})
    with pytest.raises(ContractError, match="invalid payload"):
        decode(broken.to_bytes())


def test_an_unknown_type_is_reported_as_such() -> None:
    stray = exporter_event().model_copy(update={"type": "exporters.exporter.renamed.v9"})
    with pytest.raises(UnknownEventType):
        decode(stray.to_bytes())


def test_aggregate_version_starts_at_one() -> None:
    with pytest.raises(ValidationError):
        exporter_event(version=0)


def test_a_registry_refuses_malformed_and_duplicate_types() -> None:
    local = EventRegistry()
    with pytest.raises(ValueError, match="<service>"):
        local.register("exporters.registered")
    local.register("a.b.c.v1")(type("One", (IntegrationEvent,), {}))
    with pytest.raises(ValueError, match="twice"):
        local.register("a.b.c.v1")(type("Two", (IntegrationEvent,), {}))
