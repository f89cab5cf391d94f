"""Prometheus metrics of every Tasdir process, served on `/metrics` by `create_app`.

The metric objects live here, once per process: the embedded mode runs three services in one
process, so the `service` label tells them apart instead of a registry per service.

- `tasdir_http_request_duration_seconds{method, route, status}`: `route` is the route template
  (`/v1/exporters/{id}`), never the raw path, so ids do not blow up the label set.
- `tasdir_events_published_total{service, event_type, outcome}`: counted by the relay's
  transport (`MeteredTransport`); outcome is published, unroutable, rejected, unavailable
  or error.
- `tasdir_events_consumed_total{service, event_type, outcome}`: the consumer's `on_outcome`
  (consumed, duplicate, ignored, requeued, dead_lettered).
- `tasdir_events_dead_lettered_total{service, event_type, outcome}`: the dead-lettered subset.
- `tasdir_outbox_lag_seconds{service}`, `tasdir_outbox_pending{service}`,
  `tasdir_outbox_parked{service}`: set by the service's relay every few seconds, so they are
  served by the process that runs the relay (the relay's own /metrics under `tasdir stack`).

`method` is one of a fixed set, or `other`; `route` is a template or `unmatched`. A client can
therefore not grow the label set, however it calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.types import Scope

from tasdir.messaging.relay import OutboxCounts
from tasdir.messaging.transport import (
    OutgoingMessage,
    Publisher,
    PublishRejected,
    TransportUnavailable,
    Unroutable,
)

log = logging.getLogger(__name__)

M = TypeVar("M", Counter, Gauge, Histogram)

# Label values come from a fixed set: a client inventing methods must not grow the scrape.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _metric(kind: type[M], name: str, documentation: str, labels: Iterable[str], **kw: Any) -> M:
    """Register `name` once per process, even if this module is imported twice."""
    existing = getattr(REGISTRY, "_names_to_collectors", {}).get(name)
    if isinstance(existing, kind):
        return existing
    return kind(name, documentation, list(labels), **kw)


HTTP_LATENCY = _metric(
    Histogram,
    "tasdir_http_request_duration_seconds",
    "HTTP request latency, by method, route template and status.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_PUBLISHED = _metric(
    Counter,
    "tasdir_events_published",
    "Outbox events handed to the broker by the relay, by outcome.",
    ("service", "event_type", "outcome"),
)
EVENTS_CONSUMED = _metric(
    Counter,
    "tasdir_events_consumed",
    "Deliveries settled by a service's consumer, by outcome.",
    ("service", "event_type", "outcome"),
)
EVENTS_DEAD_LETTERED = _metric(
    Counter,
    "tasdir_events_dead_lettered",
    "Deliveries a consumer sent to its dead-letter queue.",
    ("service", "event_type", "outcome"),
)
OUTBOX_LAG = _metric(
    Gauge,
    "tasdir_outbox_lag_seconds",
    "Age of the oldest outbox event not yet sent (0 when none waits).",
    ("service",),
)
OUTBOX_PENDING = _metric(
    Gauge, "tasdir_outbox_pending", "Outbox events not yet sent.", ("service",)
)
OUTBOX_PARKED = _metric(
    Gauge, "tasdir_outbox_parked", "Outbox events set aside after repeated failures.", ("service",)
)


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count an HTTP request in `HTTP_LATENCY`, labelled by the matched route's template
    (`tasdir.api.EdgeMiddleware` calls it once the response is sent)."""
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    method = scope["method"] if scope["method"] in HTTP_METHODS else "other"
    HTTP_LATENCY.labels(method, route, str(status)).observe(seconds)


def consumer_outcomes(service: str) -> Callable[[str, str], None]:
    """The `on_outcome` callback of `service`'s `EventConsumer`."""

    def on_outcome(event_type: str, outcome: str) -> None:
        EVENTS_CONSUMED.labels(service, event_type, outcome).inc()
        if outcome == "dead_lettered":
            EVENTS_DEAD_LETTERED.labels(service, event_type, outcome).inc()

    return on_outcome


class MeteredTransport:
    """Wraps the relay's publisher to count each publish by event type and outcome."""

    def __init__(self, transport: Publisher, service: str) -> None:
        self._transport = transport
        self._service = service

    async def publish(self, message: OutgoingMessage) -> None:
        outcome = "published"
        try:
            await self._transport.publish(message)
        except Unroutable:
            outcome = "unroutable"
            raise
        except PublishRejected:
            outcome = "rejected"
            raise
        except TransportUnavailable:
            outcome = "unavailable"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            EVENTS_PUBLISHED.labels(self._service, message.routing_key, outcome).inc()


def outbox_gauges(service: str) -> Callable[[OutboxCounts], None]:
    """The relay's `on_counts` callback: it sets the outbox gauges of `service`.

    The relay reads its outbox now and then in one query, so a scrape costs no query at all.
    """

    def on_counts(counts: OutboxCounts) -> None:
        lag = 0.0
        if counts.oldest_pending is not None:
            lag = max(0.0, (datetime.now(UTC) - counts.oldest_pending).total_seconds())
        OUTBOX_LAG.labels(service).set(lag)
        OUTBOX_PENDING.labels(service).set(counts.pending)
        OUTBOX_PARKED.labels(service).set(counts.parked)

    return on_counts


def exposition() -> tuple[bytes, str]:
    """The text exposition of this process's registry, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int) -> None:
    """Serve this process's /metrics on a port of its own (a relay, a consumer, or an API told
    to keep metrics off its public port)."""
    try:
        start_http_server(port, addr=host)
    except OSError as exc:  # metrics are worth a warning, never a dead process
        log.warning("cannot serve /metrics on %s:%s: %s", host, port, exc)


__all__ = [
    "EVENTS_CONSUMED",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_PUBLISHED",
    "HTTP_LATENCY",
    "OUTBOX_LAG",
    "OUTBOX_PARKED",
    "OUTBOX_PENDING",
    "MeteredTransport",
    "consumer_outcomes",
    "exposition",
    "observe_request",
    "outbox_gauges",
    "serve_metrics",
]
