"""The FastAPI application of one service, or of all three in the embedded mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tasdir.auth import TokenVerifier
from tasdir.errors import install_problem_handlers, problem_response
from tasdir.observability import CorrelationMiddleware
from tasdir.runtime import ServiceRuntime
from tasdir.settings import Settings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    title: str,
    runtimes: Sequence[ServiceRuntime],
    settings: Settings,
    *,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.state.runtimes = {runtime.name: runtime for runtime in runtimes}
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
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
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        return problem_response(503, detail="a dependency is unreachable", checks=checks)

    return app


def uow_for(service: str) -> Callable[[Request], AsyncIterator[Any]]:
    """A dependency giving the route a fresh unit of work of `service`."""

    async def dependency(request: Request) -> AsyncIterator[Any]:
        async with request.app.state.runtimes[service].uow() as uow:
            yield uow

    return dependency
