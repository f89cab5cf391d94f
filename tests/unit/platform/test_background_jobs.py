"""Background jobs (`ServiceDefinition.background`): a job that fails is logged and run again, a
repeated tick that fails backs off and goes on, everything stops when `stop` is set, and the
embedded system runs a definition's jobs with its fakeredis client and stops them on close."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from exporters.bootstrap import definition as exporters
from support.apps import serving
from tasdir.messaging.inproc import InProcessBus
from tasdir.service import (
    JobContext,
    ServiceRuntime,
    repeat,
    stop_background,
    supervise,
)
from tasdir.settings import Settings
from tasdir_cli.embedded import EmbeddedSystem, build_app

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)


@pytest.fixture
async def runtime(tmp_path: Path) -> Any:
    # Never migrated nor connected: the jobs here only need its name.
    made = ServiceRuntime(
        exporters,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/jobs.db",
        transport=InProcessBus(),
        settings=SETTINGS,
    )
    yield made
    await made.dispose()


async def test_a_job_that_raises_is_logged_and_run_again(
    runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    context = JobContext(runtime=runtime, redis=None, stop=asyncio.Event())
    runs: list[int] = []
    third = asyncio.Event()

    async def flaky(context: JobContext) -> None:
        runs.append(len(runs) + 1)
        if len(runs) < 3:
            raise RuntimeError(f"failure {len(runs)}")
        third.set()
        await context.stop.wait()

    task = asyncio.create_task(supervise(flaky, context, first_backoff=0.001, max_backoff=0.002))
    await third.wait()
    context.stop.set()
    await task
    assert runs == [1, 2, 3]
    failures = [r for r in caplog.records if "stopped with an error" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)


async def test_a_job_that_returns_before_stop_is_run_again(
    runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    context = JobContext(runtime=runtime, redis=None, stop=asyncio.Event())
    runs: list[None] = []

    async def quitter(context: JobContext) -> None:
        runs.append(None)
        if len(runs) == 2:
            context.stop.set()

    await supervise(quitter, context, first_backoff=0.001)
    assert len(runs) == 2
    assert any("returned before it was told to stop" in r.getMessage() for r in caplog.records)


async def test_repeat_goes_on_after_a_failing_tick_and_stops_on_stop(
    runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    context = JobContext(runtime=runtime, redis=None, stop=asyncio.Event())
    ticks: list[int] = []

    async def tick(context: JobContext) -> None:
        ticks.append(len(ticks) + 1)
        if len(ticks) == 2:
            raise ValueError("one bad tick")
        if len(ticks) == 4:
            context.stop.set()

    job = repeat(tick, lambda: 0.001, name="ticker", max_backoff=0.002)
    assert job.__name__ == "ticker"
    await job(context)
    assert ticks == [1, 2, 3, 4]
    (failure,) = [r for r in caplog.records if "ticker" in r.getMessage()]
    assert "failed; next run in" in failure.getMessage()


async def test_a_job_stops_waiting_as_soon_as_stop_is_set(runtime: Any) -> None:
    context = JobContext(runtime=runtime, redis=None, stop=asyncio.Event())
    started = asyncio.Event()

    async def tick(context: JobContext) -> None:
        started.set()

    # An hour between ticks: only `stop` can end it.
    task = asyncio.create_task(supervise(repeat(tick, 3600.0), context))
    await started.wait()
    context.stop.set()
    await task
    assert await context.pause(3600.0) is True


async def test_a_job_that_ignores_stop_is_cancelled_after_the_grace(
    runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    stuck = asyncio.Event()

    async def deaf(context: JobContext) -> None:
        stuck.set()
        await asyncio.Event().wait()

    definition = dataclasses.replace(exporters, background=(deaf,))
    other = ServiceRuntime(
        definition,
        database_url=runtime.database_url,
        transport=runtime.transport,
        settings=SETTINGS,
    )
    tasks = other.start_background(None, stop)
    assert [t.get_name() for t in tasks] == [
        "exporters-test_a_job_that_ignores_stop_is_cancelled_after_the_grace.<locals>.deaf"
    ]
    await stuck.wait()
    stop.set()
    await stop_background(tasks, grace=0.01)
    assert all(task.cancelled() for task in tasks)
    assert any("did not stop" in r.getMessage() for r in caplog.records)
    await other.dispose()


async def test_the_embedded_system_runs_the_jobs_with_its_redis_and_stops_them(
    tmp_path: Path,
) -> None:
    seen: list[JobContext] = []
    running = asyncio.Event()

    async def watcher(context: JobContext) -> None:
        seen.append(context)
        assert context.redis is not None
        await context.redis.set("job:ran", "yes")
        running.set()
        await context.stop.wait()

    definition = dataclasses.replace(exporters, background=(watcher,))
    app = build_app(tmp_path, SETTINGS, seeders=[], definitions=[definition])
    system: EmbeddedSystem = app.state.system
    async with serving(app):
        await running.wait()
        (task,) = system.job_tasks
        assert not task.done()
        assert await system.redis.get("job:ran") == b"yes"
        (context,) = seen
        assert context.redis is system.redis
        assert context.runtime is system["exporters"]
        assert context.stop is system.stop
    assert task.done() and not task.cancelled()
    assert system.job_tasks == []
