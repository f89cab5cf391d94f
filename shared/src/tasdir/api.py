"""The FastAPI application of one service, or of all three in the embedded mode.

Every app gets the same platform: problem+json errors; the body size limit (413); the
correlation id; Prometheus metrics on `/metrics`; `/healthz` and `/readyz`; the replay of
idempotent POSTs. Rate limits come with authentication (`tasdir.auth.current_principal`) and
use `app.state.redis`: pass `redis=` here or set it before the first request (the embedded mode
sets a fakeredis). Without a Redis client there is no rate limit and no in-flight lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tasdir.auth import TokenVerifier
from tasdir.errors import install_problem_handlers, problem_response
from tasdir.idempotency import install_idempotency
from tasdir.limits import BodySizeLimitMiddleware
from tasdir.metrics import MetricsMiddleware, exposition, refresh_outbox_gauges
from tasdir.observability import CorrelationMiddleware
from tasdir.runtime import ServiceRuntime
from tasdir.settings import Settings

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    title: str,
    runtimes: Sequence[ServiceRuntime],
    settings: Settings,
    *,
    lifespan: Lifespan | None = None,
    redis: Any = None,
) -> FastAPI:
    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.state.runtimes = {runtime.name: runtime for runtime in runtimes}
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.redis = redis
    install_problem_handlers(app)
    install_idempotency(app)
    # The last added runs first: correlation, then metrics, then the body limit, so that a 413
    # is counted and carries the correlation id.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(CorrelationMiddleware)
    for runtime in runtimes:
        for router in runtime.definition.routers:
            app.include_router(router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz(request: Request) -> dict[str, Any] | JSONResponse:
        checks: dict[str, bool] = {}
        for runtime in request.app.state.runtimes.values():
            checks[f"{runtime.name}.database"] = await runtime.database_ready()
            checks[f"{runtime.name}.broker"] = runtime.transport.is_connected()
        if request.app.state.redis is not None:
            checks["redis"] = await _redis_ready(request.app.state.redis)
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        return problem_response(503, detail="a dependency is unreachable", checks=checks)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await refresh_outbox_gauges(request.app.state.runtimes.values())
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return app


def redis_client(settings: Settings) -> Any:
    """A `redis.asyncio.Redis` for `settings.redis_url`; it connects on first use."""
    from redis.asyncio import Redis

    return Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)


async def _redis_ready(redis: Any) -> bool:
    try:
        return bool(await asyncio.wait_for(redis.ping(), timeout=2.0))
    except Exception:
        log.warning("redis unreachable", exc_info=True)
        return False


def uow_for(service: str) -> Callable[[Request], AsyncIterator[Any]]:
    """A dependency giving the route a fresh unit of work of `service`."""

    async def dependency(request: Request) -> AsyncIterator[Any]:
        async with request.app.state.runtimes[service].uow() as uow:
            yield uow

    return dependency
