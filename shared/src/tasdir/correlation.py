"""The correlation id of the work in progress: an HTTP request or a consumed event."""

from __future__ import annotations

from contextvars import ContextVar
from uuid import uuid4

_correlation_id: ContextVar[str | None] = ContextVar("tasdir_correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("tasdir_causation_id", default=None)


def current_correlation_id() -> str:
    """The id set by the entrypoint, or a new one for work that started here."""
    value = _correlation_id.get()
    if value is None:
        value = str(uuid4())
        _correlation_id.set(value)
    return value


def current_causation_id() -> str | None:
    return _causation_id.get()


def bind(correlation_id: str, causation_id: str | None = None) -> None:
    _correlation_id.set(correlation_id)
    _causation_id.set(causation_id)
