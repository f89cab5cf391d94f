"""Routes of every service: `service_router(...)` and the dependency of a unit of work.

Every service builds its routers here, so every route gets the same guards, in this order:
1. authentication (401, 403 later by role, 429, 503 when the identity provider is away),
   before anything reads the request body: an anonymous caller learns nothing from a 422;
2. the media type of a body (415 for anything but JSON);
3. the body parses as JSON (a 422 `invalid-json` otherwise: FastAPI itself would answer an
   undocumented 400 for a body that is not UTF-8, or nested deeper than the parser can go);
4. then FastAPI validates the body (a 422 naming the field).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from functools import cache
from typing import Annotated, Any

import fastapi.routing
from fastapi import APIRouter, Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, compile_path

from tasdir.auth import authenticate, current_principal
from tasdir.db.uow import UnitOfWork
from tasdir.errors import Forbidden, Invalid, UnsupportedMediaType, problem_response
from tasdir.settings import Settings

JSON_MEDIA_TYPES = ("application/json",)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def api_routes(routes: Sequence[BaseRoute], *, raw: bool = False) -> Iterator[tuple[APIRoute, str]]:
    """Every API route of an app, routers included, with the path it is served at: as the
    OpenAPI document writes it, or with `raw` as it matches (`{exporter_id:uuid}`).

    FastAPI mounts an included router as one entry of `app.routes`; its route contexts give
    the original routes and their prefixed paths.
    """
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:  # a FastAPI that copies included routes into app.routes
        for route in routes:
            if isinstance(route, APIRoute):
                yield route, route.path if raw else route.path_format
        return
    for context in contexts(routes):
        original = context.original_route
        if isinstance(original, APIRoute):
            served = context.path if raw else context.path_format
            yield original, str(served or (original.path if raw else original.path_format))


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> set[str]:
    """The methods the API routes serve at `path`, for the `Allow` header of a 405.

    Starlette's 405 names only the methods of the first route that matched the path, so
    `OPTIONS /v1/providers/{id}` would say `Allow: GET` although PATCH is served there too.
    """
    methods: set[str] = set()
    for route, served_at in api_routes(routes, raw=True):
        if route.methods and compile_path(served_at)[0].match(path):
            methods |= route.methods
    return methods


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """The 405 problem, its `Allow` naming every method served at the path (`create_app`
    installs it for the status 405, ahead of the problem handler of every HTTP error)."""
    headers = dict(getattr(exc, "headers", None) or {})
    methods = allowed_methods(request.app.routes, request.url.path)
    methods |= {method.strip() for method in headers.get("Allow", "").split(",") if method}
    headers["Allow"] = ", ".join(sorted(methods))
    detail = getattr(exc, "detail", None)
    return problem_response(
        405,
        detail=detail if isinstance(detail, str) else None,
        instance=request.url.path,
        headers=headers,
    )


def needs_principal(route: APIRoute) -> bool:
    return any(call is current_principal for call in _calls(route.dependant))


def roles_of(route: APIRoute) -> tuple[str, ...] | None:
    """The roles a route admits (from `require_roles`), or None if any principal may call."""
    for call in _calls(route.dependant):
        roles = getattr(call, "roles", None)
        if roles is not None:
            return tuple(roles)
    return None


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json(request: Request) -> None:
    """Parse a non-empty JSON body now (FastAPI reuses the parsed value), or answer a 422
    `invalid-json`, as for any other body that is not JSON: FastAPI answers a bare 400 for bytes
    that are not UTF-8 and for a nesting deeper than the parser's recursion limit."""
    if not await request.body():
        return
    try:
        await request.json()
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Invalid("the request body is not valid JSON", kind="invalid-json") from None


class TasdirRoute(APIRoute):
    """An `APIRoute` that authenticates, checks the role and the media type, and parses the
    JSON, before FastAPI reads the body or runs any dependency (the idempotency guard
    included)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        authenticated = needs_principal(self)
        roles = roles_of(self)
        has_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            if authenticated:
                principal = await authenticate(request)
                # A role that may never use the route learns nothing from its body either.
                if roles is not None and principal.role not in roles:
                    raise Forbidden(f"role {principal.role!r} may not use this route")
            if has_body and not is_json(request.headers.get("content-type")):
                raise UnsupportedMediaType(
                    "send the body as application/json", kind="unsupported-media-type"
                )
            if has_body:
                await read_json(request)
            return await handler(request)

        return guarded


def service_router(*, prefix: str, tags: list[str], **kwargs: Any) -> APIRouter:
    """An `APIRouter` whose routes are `TasdirRoute`s; trailing-slash redirects are off."""
    return APIRouter(
        prefix=prefix, tags=list(tags), route_class=TasdirRoute, redirect_slashes=False, **kwargs
    )


async def app_settings(request: Request) -> Settings:
    """The settings the app was built with (a coroutine: FastAPI runs a plain function in its
    thread pool)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


@cache
def uow_for(service: str) -> Callable[[Request], AsyncIterator[UnitOfWork]]:
    """The dependency giving a route a fresh unit of work of `service`.

    Cached per service, so that every dependency of one request that asks for it (the route,
    the idempotency guard) shares the same unit of work.
    """

    async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
        async with request.app.state.runtimes[service].uow() as uow:
            yield uow

    unit_of_work.__name__ = f"{service}_unit_of_work"
    return unit_of_work


__all__ = [
    "SettingsDep",
    "TasdirRoute",
    "allowed_methods",
    "api_routes",
    "app_settings",
    "is_json",
    "method_not_allowed",
    "needs_principal",
    "read_json",
    "roles_of",
    "service_router",
    "uow_for",
]
