"""Wires the console: its settings, its session codec, its HTTP client to the API, its
templates, static files, pages and error pages.

`create_app` is what `python -m console` serves, and what `tasdir run` mounts at `/console`
(with an in-process transport to the embedded API: `transport`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from tasdir.reference.geography import regions
from tasdir.settings import Settings

from console.config import ConsoleSettings, check_console_settings
from console.entrypoints import exporter, pages, referrals
from console.entrypoints.context import ConsoleState
from console.entrypoints.errors import install_error_pages
from console.service_layer.session import SessionCodec
from console.service_layer.signin import PrincipalSource, one_per_role

HERE = Path(__file__).parent


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=HERE / "templates")
    found.env.autoescape = True
    return found


def _every_region_advisor() -> PrincipalSource:
    listed = one_per_role(tuple(r.code for r in regions()))
    return lambda: listed


def create_app(
    settings: ConsoleSettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    principals: PrincipalSource | None = None,
    token_settings: Settings | None = None,
) -> FastAPI:
    """The console app. `principals` lists the dev sign-in's accounts (one per role when not
    given); `token_settings` signs their tokens (`tasdir.settings.get_settings()` otherwise)."""
    settings = settings or check_console_settings()
    http = httpx.AsyncClient(transport=transport, timeout=settings.api_timeout_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()

    app = FastAPI(
        title="Tasdir console",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = ConsoleState(
        settings=settings,
        codec=SessionCodec(
            settings.session_key.get_secret_value() if settings.session_key else "",
            settings.session_ttl_seconds,
        ),
        http=http,
        templates=templates(),
        principals=principals or _every_region_advisor(),
        token_settings=token_settings,
    )
    for router in (pages.router, exporter.router, referrals.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_error_pages(app)
    return app
