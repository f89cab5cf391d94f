"""RFC 9457 problem+json for every error, with a stable `type` per kind of error."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://tasdir.dev/problems/"
PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("unavailable", "Service unavailable"),
}


class Problem(Exception):
    """Raise it anywhere in a request: the handler turns it into problem+json."""

    status: int = 400
    kind: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or "")
        self.status = status or self.status
        self.kind = kind or self.kind or _TITLES.get(self.status, ("error", "Error"))[0]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class Unauthorized(Problem):
    status = 401


class Forbidden(Problem):
    status = 403


class NotFound(Problem):
    status = 404


class Conflict(Problem):
    status = 409


class Invalid(Problem):
    status = 422


def problem_response(
    status: int,
    *,
    kind: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    slug, title = _TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (kind or slug),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in location)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            kind=exc.kind,
            detail=exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field_name(tuple(error.get("loc", ()))),
                "in": str(error.get("loc", ("body",))[0]),
                "message": error.get("msg", "invalid"),
                "code": error.get("type", "invalid"),
            }
            for error in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            422,
            detail=f"invalid input: {fields}",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code,
            detail=detail,
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # Log the trace, never send it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, instance=request.url.path)
