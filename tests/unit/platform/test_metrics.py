"""`/metrics`: HTTP latency by route template, events published, consumed and dead-lettered,
and the outbox lag, in one registry per process."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from support.fakes import FakeDelivery
from tasdir import metrics
from tasdir.messaging.transport import OutgoingMessage, Unroutable
from unit.platform.kit import MakePlatform, Platform, exporter_body, is_problem


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(platform: Platform) -> dict[str, list[Any]]:
    async with platform.client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


async def test_http_latency_is_labelled_by_route_template_and_status(platform: Platform) -> None:
    @platform.app.get("/probe/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    labels = {"method": "GET", "route": "/probe/items/{item_id}", "status": "200"}
    before = sample("tasdir_http_request_duration_seconds_count", **labels)
    async with platform.client() as client:
        for n in range(3):
            assert (await client.get(f"/probe/items/{n}")).status_code == 200
        is_problem(await client.get("/nowhere/at/all"), 404)
    assert sample("tasdir_http_request_duration_seconds_count", **labels) == before + 3
    families = await scrape(platform)
    routes = {s.labels["route"] for s in families["tasdir_http_request_duration_seconds"]}
    assert "/probe/items/{item_id}" in routes and "unmatched" in routes
    assert not any(route.startswith("/probe/items/1") for route in routes)


async def test_the_outbox_gauges_come_from_the_relay_and_a_scrape_runs_no_query(
    platform: Platform,
) -> None:
    await platform.runtime.transport.declare_topology()
    async with platform.client() as client:
        created = await client.post("/v1/exporters", json=exporter_body(), headers=platform.auth())
    assert created.status_code == 201
    relay = platform.runtime.relay()
    await relay.report_counts(force=True)
    families = await scrape(platform)
    lag = {s.labels["service"]: s.value for s in families["tasdir_outbox_lag_seconds"]}
    pending = {s.labels["service"]: s.value for s in families["tasdir_outbox_pending"]}
    assert lag["exporters"] > 0 and pending["exporters"] == 1

    published = {
        "service": "exporters",
        "event_type": "exporters.exporter.registered.v1",
        "outcome": "published",
    }
    before = sample("tasdir_events_published_total", **published)
    report = await relay.relay_once()
    assert report.published == 1
    assert sample("tasdir_events_published_total", **published) == before + 1
    await relay.report_counts(force=True)

    statements: list[str] = []

    def count_statement(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = platform.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        families = await scrape(platform)
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert statements == []  # a scrape reads the registry, never the database
    lag = {s.labels["service"]: s.value for s in families["tasdir_outbox_lag_seconds"]}
    assert lag["exporters"] == 0.0
    assert "tasdir_events_published" in families


async def test_invented_methods_do_not_grow_the_label_set(platform: Platform) -> None:
    async with platform.client() as client:
        for n in range(50):
            await client.request(f"BREW{n}", "/v1/exporters/me")
        families = await scrape(platform)
    methods = {s.labels["method"] for s in families["tasdir_http_request_duration_seconds"]}
    assert methods <= set(metrics.HTTP_METHODS) | {"other"}
    assert "other" in methods


async def test_metrics_can_move_off_the_public_port(make_platform: MakePlatform) -> None:
    platform = await make_platform(metrics_port=9464)
    async with platform.client() as client:
        response = await client.get("/metrics")
    is_problem(response, 404)


async def test_consumed_and_dead_lettered_events_are_counted(platform: Platform) -> None:
    labels = {"service": "exporters", "event_type": "exporters.exporter.updated.v1"}
    dead_before = sample("tasdir_events_dead_lettered_total", outcome="dead_lettered", **labels)
    consumed_before = sample("tasdir_events_consumed_total", outcome="dead_lettered", **labels)
    delivery = FakeDelivery(b"not an envelope")
    await platform.runtime.consumer()(delivery)
    assert delivery.outcome == "dead_letter"
    assert (
        sample("tasdir_events_dead_lettered_total", outcome="dead_lettered", **labels)
        == dead_before + 1
    )
    assert (
        sample("tasdir_events_consumed_total", outcome="dead_lettered", **labels)
        == consumed_before + 1
    )

    consumed = {
        "service": "matching",
        "event_type": "exporters.exporter.updated.v1",
        "outcome": "consumed",
    }
    before = sample("tasdir_events_consumed_total", **consumed)
    metrics.consumer_outcomes("matching")("exporters.exporter.updated.v1", "consumed")
    assert sample("tasdir_events_consumed_total", **consumed) == before + 1
    families = await scrape(platform)
    assert {"tasdir_events_consumed", "tasdir_events_dead_lettered"} <= set(families)


async def test_a_failed_publish_is_counted_by_its_outcome() -> None:
    class Refusing:
        async def publish(self, message: OutgoingMessage) -> None:
            raise Unroutable(message.routing_key)

    labels = {"service": "probe", "event_type": "probe.thing.v1", "outcome": "unroutable"}
    before = sample("tasdir_events_published_total", **labels)
    transport = metrics.MeteredTransport(Refusing(), "probe")
    with pytest.raises(Unroutable):
        await transport.publish(OutgoingMessage("probe.thing.v1", b"{}", "id-1", "c-1"))
    assert sample("tasdir_events_published_total", **labels) == before + 1


async def test_metrics_are_registered_once_per_process(make_platform: MakePlatform) -> None:
    first = metrics.HTTP_LATENCY
    reloaded = importlib.reload(metrics)
    assert reloaded.HTTP_LATENCY is first
    # Two apps in one process (as in the embedded mode) share the registry without clashing.
    one, two = await make_platform(), await make_platform()
    for platform in (one, two):
        families = await scrape(platform)
        assert "tasdir_http_request_duration_seconds" in families
