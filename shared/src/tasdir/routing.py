"""Routes of every service: `service_router(...)` and the dependency of a unit of work.

Every service builds its routers here, so every route gets the same guards, in this order:
1. authentication (401, 403 later by role, 429, 503 when the identity provider is away),
   before anything reads the request body: an anonymous caller learns nothing from a 422;
2. the media type of a body (415 for anything but JSON);
3. then FastAPI reads and validates the body (`invalid-json`, or a 422 naming the field).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tasdir.auth import authenticate, current_principal
from tasdir.db.uow import UnitOfWork
from tasdir.errors import UnsupportedMediaType
from tasdir.settings import Settings

JSON_MEDIA_TYPES = ("application/json",)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


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


class TasdirRoute(APIRoute):
    """An `APIRoute` that authenticates and checks the media type before the body is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        authenticated = needs_principal(self)
        has_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            if authenticated:
                await authenticate(request)
            if has_body and not is_json(request.headers.get("content-type")):
                raise UnsupportedMediaType(
                    "send the body as application/json", kind="unsupported-media-type"
                )
            return await handler(request)

        return guarded


def service_router(*, prefix: str, tags: list[str], **kwargs: Any) -> APIRouter:
    """An `APIRouter` whose routes are `TasdirRoute`s; trailing-slash redirects are off."""
    return APIRouter(
        prefix=prefix, tags=list(tags), route_class=TasdirRoute, redirect_slashes=False, **kwargs
    )


def app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
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
    "app_settings",
    "is_json",
    "needs_principal",
    "roles_of",
    "service_router",
    "uow_for",
]
