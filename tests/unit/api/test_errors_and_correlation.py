"""Every error is problem+json without a trace; correlation ids are accepted, made and echoed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from exporters.bootstrap import definition as exporters
from fastapi import APIRouter
from support.apps import sqlite_runtime
from support.tokens import make_token
from tasdir.api import create_app
from tasdir.correlation import bind, current_correlation_id
from tasdir.observability import AccessLog, BackgroundLines, JsonFormatter
from tasdir.settings import Settings

SETTINGS = Settings(environment="development")
crashes = APIRouter()


@crashes.get("/test/crash")
async def crash() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@crashes.get("/test/echo-correlation")
async def echo_correlation() -> dict[str, str]:
    return {"correlation_id": current_correlation_id()}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = await sqlite_runtime(exporters, tmp_path, SETTINGS, name="e")
    app = create_app("exporters", [runtime], SETTINGS)
    app.include_router(crashes)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c
    await runtime.dispose()


def is_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("https://tasdir.dev/problems/")
    return body


async def test_a_crash_is_a_500_problem_without_a_trace(client: httpx.AsyncClient) -> None:
    body = is_problem(await client.get("/test/crash"), 500)
    text = json.dumps(body)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text


async def test_an_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert is_problem(await client.get("/v1/nowhere"), 404)["type"].endswith("not-found")  # type: ignore[union-attr]
    is_problem(await client.delete("/v1/exporters/me"), 405)


async def test_missing_and_bad_tokens_are_401_problems(client: httpx.AsyncClient) -> None:
    assert "Bearer" in (await client.get("/v1/exporters/me")).headers["www-authenticate"]
    is_problem(await client.get("/v1/exporters/me"), 401)
    bad = await client.get("/v1/exporters/me", headers={"Authorization": "Bearer nope"})
    assert is_problem(bad, 401)["type"].endswith("invalid-token")  # type: ignore[union-attr]


async def test_a_role_that_may_never_use_the_route_is_a_403(client: httpx.AsyncClient) -> None:
    token = make_token(SETTINGS, "advisor", sub="a1")
    response = await client.post(
        "/v1/exporters",
        json={"legal_name": "X", "ice": "001234567000089", "region": "oriental"},
        headers={"Authorization": f"Bearer {token}"},
    )
    is_problem(response, 403)


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    token = make_token(SETTINGS, "exporter", sub="e1")
    response = await client.post(
        "/v1/exporters",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    is_problem(response, 422)


async def test_a_correlation_id_is_accepted_echoed_and_bound(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/test/echo-correlation", headers={"X-Correlation-ID": "req-42.a:b"}
    )
    assert response.headers["x-correlation-id"] == "req-42.a:b"
    assert response.json() == {"correlation_id": "req-42.a:b"}


@pytest.mark.parametrize("given", [None, "", "x" * 200, "bad id with spaces", "<script>"])
async def test_a_missing_or_malformed_correlation_id_is_replaced(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {"X-Correlation-ID": given} if given is not None else {}
    response = await client.get("/test/echo-correlation", headers=headers)
    made = response.headers["x-correlation-id"]
    assert made != given and len(made) == 36
    assert response.json() == {"correlation_id": made}


def test_json_logs_carry_the_bound_correlation_id() -> None:
    bind("corr-1")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.event_id = "e-1"
    line = json.loads(JsonFormatter("exporters.api").format(record))
    assert line["message"] == "hello you"
    assert (line["correlation_id"], line["service"], line["event_id"]) == (
        "corr-1",
        "exporters.api",
        "e-1",
    )


async def test_each_request_has_one_access_log_line_with_its_figures(
    client: httpx.AsyncClient,
) -> None:
    lines: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))  # formatted as it is written

    handler = Collect()
    handler.setFormatter(JsonFormatter("exporters.api"))
    access = logging.getLogger("tasdir.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        await client.get("/v1/nowhere?x=1", headers={"X-Correlation-ID": "req-7"})
        crashed = await client.get("/test/crash", headers={"X-Correlation-ID": "req-8"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert crashed.headers["x-correlation-id"] == "req-8"
    assert [line["message"] for line in lines] == [
        "GET /v1/nowhere?x=1 404",
        "GET /test/crash 500",
    ]
    assert [line["correlation_id"] for line in lines] == ["req-7", "req-8"]
    first = lines[0]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/v1/nowhere?x=1", 404)
    assert first["duration_ms"] >= 0


def test_background_lines_are_formatted_in_the_callers_context_and_all_written() -> None:
    stream = io.StringIO()
    handler = BackgroundLines(stream, pause=0.5)
    handler.setFormatter(JsonFormatter("exporters.api"))
    logger = logging.getLogger("test.background")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for number in range(50):
            bind(f"corr-{number}")
            logger.warning("line %d", number)
        handler.flush()  # returns once all 50 are written, whatever the writer's pause
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [line["message"] for line in lines] == [f"line {n}" for n in range(50)]
        assert [line["correlation_id"] for line in lines] == [f"corr-{n}" for n in range(50)]
        logger.warning("the last one")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()  # writes what is left, then stops the thread
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "the last one"
    assert not handler.writer.is_alive()


def test_a_sampled_access_log_keeps_every_error_and_slow_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sampled = AccessLog(every=3, slow_seconds=1.0)
    scope: dict[str, Any] = {"method": "GET", "path": "/x", "query_string": b"", "client": None}
    with caplog.at_level(logging.INFO, logger="tasdir.access"):
        for status, seconds in [(200, 0.01)] * 6 + [(404, 0.01), (500, 0.01), (200, 2.0)]:
            sampled(scope, status, seconds)
    logged = [(r.status, r.duration_ms) for r in caplog.records if r.name == "tasdir.access"]  # type: ignore[attr-defined]
    assert logged == [(200, 10.0), (200, 10.0), (404, 10.0), (500, 10.0), (200, 2000.0)]
