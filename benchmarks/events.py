"""The event benchmark (`make bench BENCH=events`, or `python -m benchmarks.events`).

On real RabbitMQ (a vhost of the run's own) and real PostgreSQL (a database per service, created
and dropped by the run), it measures the event path of `make stack` with the library's own
classes, against its physical anchor on the same broker:

1. the anchor: raw aio-pika confirmed publishes of N messages of an event's size to a quorum
   queue, pipelined with a bounded number in flight: each window of `ANCHOR_WINDOWS` and all N
   at once are tried (a fresh queue each) and the fastest is the anchor, so that it is a fair
   upper bound; then consume + ack of the N with the project's prefetch;
2. `OutboxRelay` (as `ServiceRuntime.relay()` builds it) draining a backlog of N committed
   outbox rows of the exporters service;
3. `EventConsumer` (as `ServiceRuntime.consumer()` builds it, on matching's queue) applying the
   N events to matching's exporter projection, inbox included;
4. the latency from a committed write (an `ExporterRegistered` in the exporters outbox) to
   matching's projection, with the relay (woken by each commit, polling as a fallback) and the
   consumer running, at a steady 50 events/s: p50 and p99.

N is 10,000; 1,000 with `BENCH_QUICK=1`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
from exporters.bootstrap import definition as exporters
from matching.bootstrap import definition as matching
from tasdir.contracts import Envelope, events
from tasdir.correlation import current_correlation_id
from tasdir.messaging import RabbitTransport
from tasdir.messaging.consumer import EventConsumer
from tasdir.messaging.topology import service_queue
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

from benchmarks import common, infra

RATE = 50.0  # events per second, for the latency part
TARGETS = (
    ("relay", "publish", 0.5, "relay draining a backlog: >= 0.5x raw pipelined confirmed publish"),
    ("consumer", "consume", 0.3, "consumer applying events: >= 0.3x raw consume+ack"),
)
LATENCY_P99_TARGET_MS = 100.0


def registration(name: str) -> Envelope:
    exporter_id = str(uuid4())
    snapshot = events.ExporterRegistered(
        id=exporter_id,
        org=f"org-{exporter_id[:8]}",
        status="active",
        legal_name=name,
        ice="001234567000089",
        region="souss-massa",
    )
    return Envelope.wrap(
        snapshot,
        producer="exporters",
        aggregate_id=exporter_id,
        aggregate_version=1,
        correlation_id=str(uuid4()),
    )


async def write_backlog(runtime: ServiceRuntime[Any], n: int, per_commit: int = 500) -> None:
    """`n` registrations committed in the exporters outbox, `per_commit` to a transaction."""
    written = 0
    while written < n:
        async with runtime.uow() as uow:
            for _ in range(min(per_commit, n - written)):
                envelope = registration(f"Backlog {written}")
                uow.outbox.add(
                    envelope.event(),
                    aggregate_id=envelope.aggregate_id,
                    aggregate_version=1,
                    correlation_id=envelope.correlation_id,
                )
                written += 1
            await uow.commit()


# ---- 1. the anchor ------------------------------------------------------------------------------


ANCHOR_WINDOWS = (100, 250, 500, 1000)


async def publish_windowed(
    channel: aio_pika.abc.AbstractChannel, queue: str, body: bytes, n: int, window: int
) -> float:
    """Seconds to publish `n` persistent messages with confirms, at most `window` unconfirmed
    at a time (`window` publishers, each awaiting its confirm before its next publish)."""
    left = n

    async def publisher() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue,
            )

    began = time.perf_counter()
    await asyncio.gather(*(publisher() for _ in range(min(window, n))))
    return time.perf_counter() - began


async def anchor(
    amqp_url: str, n: int, body_size: int, prefetch: int, windows: Sequence[int] = ANCHOR_WINDOWS
) -> dict[str, Any]:
    """The best of several in-flight windows for the publish (each into a fresh quorum queue),
    then consume + ack of the last queue's `n` messages."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        body = b"x" * body_size
        by_window: dict[str, float] = {}
        queue = None
        for window in (*(w for w in windows if w < n), n):
            if queue is not None:
                await queue.delete(if_unused=False, if_empty=False)
            queue = await channel.declare_queue(
                f"bench.anchor.{uuid4().hex[:6]}",
                durable=True,
                arguments={"x-queue-type": "quorum"},
            )
            took = await publish_windowed(channel, queue.name, body, n, window)
            by_window["all" if window >= n else str(window)] = n / took
        assert queue is not None
        best = max(by_window, key=lambda key: by_window[key])

        consumer_channel = await connection.channel()
        await consumer_channel.set_qos(prefetch_count=prefetch)
        consumed = await consumer_channel.get_queue(queue.name)
        done = asyncio.Event()
        count = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal count
            await message.ack()
            count += 1
            if count >= n:
                done.set()

        began = time.perf_counter()
        tag = await consumed.consume(on_message)
        await done.wait()
        consume = time.perf_counter() - began
        await consumed.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return {
        "n": n,
        "body_bytes": body_size,
        "prefetch": prefetch,
        "publish_per_second_by_window": by_window,
        "publish_window": best,
        "publish_per_second": by_window[best],
        "consume_seconds": round(consume, 3),
        "consume_per_second": n / consume,
    }


# ---- 2-4. the project's path --------------------------------------------------------------------


class Counter:
    """The consumer's outcomes, and when each correlation id was consumed."""

    def __init__(self) -> None:
        self.consumed = 0
        self.at: dict[str, float] = {}
        self.target = 0
        self.reached = asyncio.Event()

    def __call__(self, event_type: str, outcome: str) -> None:
        if outcome != "consumed":
            return
        self.consumed += 1
        self.at[current_correlation_id()] = time.perf_counter()
        if self.target and self.consumed >= self.target:
            self.reached.set()

    def expect(self, total: int) -> None:
        self.target = total
        if self.consumed >= total:
            self.reached.set()
        else:
            self.reached.clear()


async def project_path(
    amqp_url: str, n: int, latency_seconds: float, settings: Settings
) -> dict[str, Any]:
    transport = RabbitTransport(amqp_url)
    await transport.connect()
    await transport.declare_topology()
    names: list[str] = []
    runtimes: list[ServiceRuntime[Any]] = []
    subscription = None
    stop = asyncio.Event()
    relay_task: asyncio.Task[None] | None = None
    try:
        for definition in (exporters, matching):
            name, url = await infra.create_database()
            names.append(name)
            runtime: ServiceRuntime[Any] = ServiceRuntime(
                definition, database_url=url, transport=transport, settings=settings
            )
            await runtime.migrate()
            runtimes.append(runtime)
        source, sink = runtimes
        result: dict[str, Any] = {}

        # 2. the relay drains a backlog
        await write_backlog(source, n)
        relay = source.relay()
        began = time.perf_counter()
        published = 0
        while published < n:
            report = await relay.relay_once()
            if report.unavailable or report.failed:
                raise RuntimeError(f"the relay could not publish: {report}")
            published += report.published
        took = time.perf_counter() - began
        result["relay"] = {
            "n": n,
            "batch_size": relay.batch_size,
            "seconds": round(took, 3),
            "per_second": n / took,
        }
        print(f"  relay: {n / took:,.0f} events/s", flush=True)

        # 3. the consumer applies them
        counter = Counter()
        consumer = EventConsumer(
            sink.name,
            sink.uow,
            sink.definition.handlers,
            on_outcome=counter,
            delivery_limit=service_queue(sink.name).delivery_limit,
        )
        counter.expect(n)
        began = time.perf_counter()
        subscription = await consumer.subscribe(
            transport, service_queue(sink.name).name, prefetch=settings.consumer_prefetch
        )
        try:
            await asyncio.wait_for(counter.reached.wait(), timeout=max(120.0, n / 5))
        except TimeoutError:
            raise RuntimeError(
                f"the consumer applied {counter.consumed} of {n} events in time"
            ) from None
        took = time.perf_counter() - began
        result["consumer"] = {
            "n": n,
            "prefetch": settings.consumer_prefetch,
            "seconds": round(took, 3),
            "per_second": n / took,
        }
        print(f"  consumer: {n / took:,.0f} events/s", flush=True)

        # 4. committed write -> projection at a steady rate, relay and consumer running
        relay_task = asyncio.create_task(source.relay().run(stop))
        committed: dict[str, float] = {}
        total = int(latency_seconds * RATE)
        counter.expect(n + total)
        began = time.perf_counter()
        for i in range(total):
            due = began + i / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            envelope = registration(f"Steady {i}")
            async with source.uow() as uow:
                uow.outbox.add(
                    envelope.event(),
                    aggregate_id=envelope.aggregate_id,
                    aggregate_version=1,
                    correlation_id=envelope.correlation_id,
                )
                await uow.commit()
            committed[envelope.correlation_id] = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(counter.reached.wait(), timeout=60)
        latencies = [
            (counter.at[key] - at) * 1000 for key, at in committed.items() if key in counter.at
        ]
        result["latency"] = {
            "rate_per_second": RATE,
            "sent": total,
            "arrived": len(latencies),
            "relay_poll_seconds": settings.relay_poll_seconds,
            **common.series(latencies),
        }
        print(
            f"  write -> projection at {RATE:g}/s: p50 {result['latency']['p50_ms']:.1f} ms, "
            f"p99 {result['latency']['p99_ms']:.1f} ms",
            flush=True,
        )
        return result
    finally:
        stop.set()
        if relay_task is not None:
            await asyncio.gather(relay_task, return_exceptions=True)
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.cancel()
        for runtime in runtimes:
            await runtime.dispose()
        await transport.close()
        for name in names:
            await infra.drop_database(name)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for part, _anchor, goal, what in TARGETS:
        ratio = result.get("ratios", {}).get(part)
        out.append(
            {
                "target": what,
                "measured": common.fmt_ratio(ratio),
                "passed": None if ratio is None else ratio >= goal,
            }
        )
    latency = result.get("latency")
    if latency and latency.get("n"):
        out.append(
            {
                "target": f"committed write -> projection at {RATE:g}/s: p99 <= "
                f"{LATENCY_P99_TARGET_MS:g} ms",
                "measured": f"{common.fmt_t(latency['p99_ms'])} ms",
                "passed": latency["p99_ms"] <= LATENCY_P99_TARGET_MS
                and latency["arrived"] == latency["sent"],
            }
        )
    return out


def table(result: dict[str, Any]) -> str:
    raw, ratios = result["anchor"], result["ratios"]
    lines = [
        f"Tasdir event benchmark, {result['date']}, N = {result['n']:,}"
        + (", QUICK run" if result["quick"] else ""),
        "  " + common.describe_environment(result["environment"]),
        "  RabbitMQ quorum queues in a throwaway vhost; PostgreSQL databases made for the run",
        "",
    ]
    body = [
        [
            f"raw aio-pika: confirmed publish, {raw['publish_window']} in flight",
            f"{raw['publish_per_second']:,.0f}",
            "1x",
        ],
        ["raw aio-pika: consume + ack", f"{raw['consume_per_second']:,.0f}", "1x"],
        [
            f"OutboxRelay draining {result['n']:,} rows",
            f"{result['relay']['per_second']:,.0f}",
            common.fmt_ratio(ratios["relay"]) + " of publish",
        ],
        [
            f"EventConsumer applying {result['n']:,} events",
            f"{result['consumer']['per_second']:,.0f}",
            common.fmt_ratio(ratios["consumer"]) + " of consume",
        ],
    ]
    lines += common.rows(["step", "msg/s", "ratio"], body)
    latency = result["latency"]
    lines += [
        "",
        f"  committed write -> projection at {RATE:g} events/s: p50 "
        f"{common.fmt_t(latency['p50_ms'])} ms, p99 {common.fmt_t(latency['p99_ms'])} ms, max "
        f"{common.fmt_t(latency['max_ms'])} ms ({latency['arrived']}/{latency['sent']} arrived; "
        f"the relay is woken by commits, and polls every {latency['relay_poll_seconds']:g} s)",
        "  raw publish by window: "
        + ", ".join(
            f"{window} {rate:,.0f}/s"
            for window, rate in raw["publish_per_second_by_window"].items()
        ),
        "",
        "Targets",
        *common.target_lines(result["targets"]),
    ]
    return "\n".join(lines)


async def run(quick: bool, n: int, latency_seconds: float) -> dict[str, Any]:
    settings = Settings(environment="development")
    infra.require("RabbitMQ", infra.RABBIT_HOST, 5672)
    infra.require("PostgreSQL", "127.0.0.1", 5432)
    vhost, amqp_url = infra.create_vhost()
    try:
        body_size = len(registration("Body size").model_dump_json().encode())
        raw = await anchor(amqp_url, n, body_size, settings.consumer_prefetch)
        print(
            f"  anchor: publish {raw['publish_per_second']:,.0f}/s ({raw['publish_window']} in "
            f"flight), consume+ack {raw['consume_per_second']:,.0f}/s",
            flush=True,
        )
        path = await project_path(amqp_url, n, latency_seconds, settings)
    finally:
        infra.delete_vhost(vhost)
    return {
        "anchor": raw,
        **path,
        "ratios": {
            "relay": path["relay"]["per_second"] / raw["publish_per_second"],
            "consumer": path["consumer"]["per_second"] / raw["consume_per_second"],
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", default=common.quick_from_env())
    parser.add_argument("--n", type=int, default=None, help="events in the backlog")
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    # The services' handlers read the settings themselves, as they do in their processes.
    os.environ.setdefault("TASDIR_ENVIRONMENT", "development")
    n = args.n or (1_000 if args.quick else 10_000)
    latency_seconds = args.latency_seconds or (10.0 if args.quick else 30.0)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "events",
        "date": common.today(),
        "started_at": common.started_at(),
        "quick": args.quick,
        "n": n,
        "environment": common.environment(("aio-pika", "aiormq", "asyncpg")),
    }
    try:
        result.update(asyncio.run(run(args.quick, n, latency_seconds)))
    except infra.Missing as exc:
        print(f"events bench: {exc}", file=sys.stderr)
        return 2
    result["targets"] = targets(result)
    result["environment"]["load_average_end"] = common.load_average()
    result["seconds"] = round(time.perf_counter() - started, 1)
    path = common.write_result(result, "events", args.results)
    print(table(result))
    print(f"\n{result['seconds']:.0f} s; every figure in {common.shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
