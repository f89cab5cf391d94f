"""The FastAPI application of one service, or of several in one process.

Every app gets the same platform, in one pure ASGI middleware (`EdgeMiddleware`):
- every response carries `X-Correlation-ID`, a 500 included;
- the latency metric by method (a fixed set), route template and status;
- an unhandled error is a 500 problem, and the connection stays open;
- 413 for a body over the limit (`BodySizeLimitMiddleware`, for requests that declare a body);
- the access log (`tasdir.access`): a line per request, or per N successful ones
  (`TASDIR_ACCESS_LOG_EVERY`);
and:
- problem+json for every error, documented on every route of the OpenAPI document;
- `/healthz`, `/readyz`, and `/metrics` (unless `metrics_port` moves it off the public port);
- `/asyncapi.json`: the AsyncAPI document of the integration events (`tasdir.asyncapi`);
- no trailing-slash redirect, which would echo the `Host` header into `Location`.

Rate limits come with authentication (`tasdir.auth.authenticate`) and use `app.state.redis`:
pass `redis=` here or set it before the first request. Without a Redis client there is no rate
limit and no in-flight idempotency lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasdir.asyncapi import asyncapi_bytes
from tasdir.auth import TokenVerifier
from tasdir.correlation import bind
from tasdir.errors import install_problem_handlers, problem_response
from tasdir.idempotency import install_idempotency
from tasdir.limits import BodySizeLimitMiddleware
from tasdir.metrics import exposition, observe_request, serve_metrics
from tasdir.observability import CORRELATION_HEADER, AccessLog, accept_correlation_id
from tasdir.openapi import document_problems
from tasdir.routing import method_not_allowed
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_CORRELATION_HEADER = CORRELATION_HEADER.encode()


def _request_headers(scope: Scope) -> tuple[bytes | None, bool]:
    """The incoming correlation id, and whether the request declares a body (a
    `Content-Length` other than 0, or a `Transfer-Encoding`): one pass over the headers."""
    correlation_id: bytes | None = None
    has_body = False
    for name, value in scope["headers"]:
        if name == _CORRELATION_HEADER:
            correlation_id = value
        elif name == b"content-length":
            has_body = has_body or value != b"0"
        elif name == b"transfer-encoding":
            has_body = True
    return correlation_id, has_body


class EdgeMiddleware:
    """Pure ASGI, the one middleware of every app. It was four (correlation, metrics, crash,
    body limit), each a coroutine and a `send` wrapper per message on every request.

    - The correlation id: a well-formed incoming `X-Correlation-ID` is kept, else one is made;
      it is bound for the logs and the events, and echoed on every response, a 500 included.
    - The body limit runs only for a request that declares a body: an HTTP/1.1 request with
      neither `Content-Length` nor `Transfer-Encoding` has none.
    - An unhandled error is logged and becomes a 500 problem, and the connection stays open:
      Starlette's last-resort handler runs outside every middleware and re-raises, which drops
      the correlation id and the keep-alive connection.
    - Once the response is sent: the latency metric, and the access log line.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, access_log: AccessLog) -> None:
        self.app = app
        self.limited = BodySizeLimitMiddleware(app, max_body_bytes=max_body_bytes)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming, has_body = _request_headers(scope)
        correlation_id = accept_correlation_id(incoming)
        bind(correlation_id)
        echo = (_CORRELATION_HEADER, correlation_id.encode())
        status = 0

        async def respond(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        try:
            await (self.limited if has_body else self.app)(scope, receive, respond)
        except Exception:
            # Log the trace, never send it.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not status:
                await problem_response(500, instance=scope.get("path"))(scope, receive, respond)
        finally:
            elapsed = time.perf_counter() - started
            observe_request(scope, status or 500, elapsed)
            self.access_log(scope, status or 500, elapsed)


def create_app(
    title: str,
    runtimes: Sequence[ServiceRuntime[Any]],
    settings: Settings,
    *,
    lifespan: Lifespan | None = None,
    redis: Redis | None = None,
) -> FastAPI:
    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan, redirect_slashes=False)
    app.state.runtimes = {runtime.name: runtime for runtime in runtimes}
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.redis = redis
    install_problem_handlers(app)
    app.add_exception_handler(405, method_not_allowed)
    install_idempotency(app)
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        access_log=AccessLog(
            every=settings.access_log_every, slow_seconds=settings.access_log_slow_seconds
        ),
    )
    for runtime in runtimes:
        for router in runtime.definition.routers:
            app.include_router(router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=None,
        responses={503: {"description": "A dependency is unreachable."}},
    )
    async def readyz(request: Request) -> dict[str, object] | JSONResponse:
        checks: dict[str, bool] = {}
        for runtime in request.app.state.runtimes.values():
            checks[f"{runtime.name}.database"] = await runtime.database_ready()
            checks[f"{runtime.name}.broker"] = runtime.transport.is_connected()
        if request.app.state.redis is not None:
            checks["redis"] = await _redis_ready(request.app.state.redis)
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        return problem_response(503, detail="a dependency is unreachable", checks=checks)

    # The AsyncAPI document of the events (tasdir.asyncapi), public like /openapi.json.
    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> Response:
        return Response(asyncapi_bytes(), media_type="application/json")

    if settings.metrics_port is None:

        @app.get("/metrics", tags=["health"], include_in_schema=False)
        async def metrics() -> Response:
            body, content_type = exposition()
            return Response(body, media_type=content_type)

    app.openapi = document_problems(app)  # type: ignore[method-assign]
    return app


def redis_client(settings: Settings) -> Redis:
    """A `redis.asyncio.Redis` for `settings.redis_url`; it connects on first use."""
    return Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)


async def _redis_ready(redis: Redis) -> bool:
    try:
        return bool(await asyncio.wait_for(redis.ping(), timeout=2.0))
    except Exception:
        log.warning("redis unreachable", exc_info=True)
        return False


__all__ = ["EdgeMiddleware", "create_app", "redis_client", "serve_metrics"]
