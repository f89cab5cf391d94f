"""Integration-event contracts: the envelope, the registry and the catalogue (docs/events.md)."""

from tasdir.contracts import events
from tasdir.contracts.base import (
    ContractError,
    Envelope,
    EventRegistry,
    FrozenModel,
    IntegrationEvent,
    UnknownEventType,
    decode,
    decode_envelope,
    registry,
    utcnow,
)

__all__ = [
    "ContractError",
    "Envelope",
    "EventRegistry",
    "FrozenModel",
    "IntegrationEvent",
    "UnknownEventType",
    "decode",
    "decode_envelope",
    "events",
    "registry",
    "utcnow",
]
