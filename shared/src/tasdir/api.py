"""The FastAPI application of one service, or of several in one process.

Every app gets the same platform, from the outside in:
- `CorrelationMiddleware`: every response carries `X-Correlation-ID`, a 500 included;
- `MetricsMiddleware`: latency by method (a fixed set), route template and status;
- `CrashMiddleware`: an unhandled error is a 500 problem, and the connection stays open;
- `BodySizeLimitMiddleware`: 413 for a body over the limit;
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
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis

from tasdir.asyncapi import asyncapi_bytes
from tasdir.auth import TokenVerifier
from tasdir.errors import CrashMiddleware, install_problem_handlers, problem_response
from tasdir.idempotency import install_idempotency
from tasdir.limits import BodySizeLimitMiddleware
from tasdir.metrics import MetricsMiddleware, exposition, serve_metrics
from tasdir.observability import CorrelationMiddleware
from tasdir.openapi import document_problems
from tasdir.routing import method_not_allowed
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


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
    # The last added runs first.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(CrashMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(CorrelationMiddleware)
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


__all__ = ["create_app", "redis_client", "serve_metrics"]
