"""The building blocks of every integration event: frozen models, the envelope, the registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from tasdir.json_types import JsonObject


class FrozenModel(BaseModel):
    """Immutable, and tolerant of fields it does not know (consumers ignore unknown fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class IntegrationEvent(FrozenModel):
    """A payload: the full snapshot of one aggregate after a change. Subclasses register a type."""

    event_type: ClassVar[str]
    aggregate: ClassVar[str]


class ContractError(ValueError):
    """A message that cannot be read as an event of the catalogue: it goes to the DLQ at once."""


class UnknownEventType(ContractError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


E = TypeVar("E", bound=type[IntegrationEvent])


class EventRegistry:
    """Maps an event `type` (which is also its routing key) to its payload model."""

    def __init__(self) -> None:
        self._models: dict[str, type[IntegrationEvent]] = {}

    def register(self, event_type: str) -> Callable[[E], E]:
        parts = event_type.split(".")
        if len(parts) != 4 or not parts[3].startswith("v") or not parts[3][1:].isdigit():
            raise ValueError(f"{event_type!r} is not <service>.<aggregate>.<event>.v<N>")

        def decorate(model: E) -> E:
            if event_type in self._models:
                raise ValueError(f"event type {event_type!r} registered twice")
            model.event_type = event_type
            model.aggregate = parts[1]
            self._models[event_type] = model
            return model

        return decorate

    def model_for(self, event_type: str) -> type[IntegrationEvent]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._models

    def types(self) -> list[str]:
        return sorted(self._models)


registry = EventRegistry()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(FrozenModel):
    """What travels on the wire. `payload` stays a plain dict here; `decode` types it."""

    event_id: UUID = Field(default_factory=uuid4)
    type: str
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str
    causation_id: str | None = None
    aggregate_id: str
    aggregate_version: int = Field(ge=1)
    payload: JsonObject

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def wrap(
        cls,
        event: IntegrationEvent,
        *,
        producer: str,
        aggregate_id: str,
        aggregate_version: int,
        correlation_id: str,
        causation_id: str | None = None,
    ) -> Envelope:
        return cls(
            type=event.event_type,
            producer=producer,
            correlation_id=correlation_id,
            causation_id=causation_id,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            payload=event.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def event(self, events: EventRegistry = registry) -> IntegrationEvent:
        """The typed payload. Raises `ContractError` if it does not fit its model."""
        model = events.model_for(self.type)
        try:
            return model.model_validate(self.payload)
        except ValidationError as exc:
            raise ContractError(f"invalid payload for {self.type}: {exc}") from exc


def decode_envelope(body: bytes) -> Envelope:
    """Parse a message body. Raises `ContractError` for anything that is not an envelope."""
    try:
        return Envelope.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise ContractError(f"unreadable envelope: {exc}") from exc


def decode(body: bytes, events: EventRegistry = registry) -> tuple[Envelope, IntegrationEvent]:
    envelope = decode_envelope(body)
    return envelope, envelope.event(events)
