"""RFC 9457 problem+json for every error, with a stable `type` per kind of error."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
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
        **extra: object,
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


class UnsupportedMediaType(Problem):
    status = 415


class FieldError(BaseModel):
    """One invalid input, as a 422 lists them."""

    field: str
    # Where the field was: body, query, path or header.
    in_: str = Field(alias="in")
    message: str
    code: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, the body of every error (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="A stable URI per kind of error.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="The invalid inputs of a 422, each naming its field."
    )


def invalid_field(
    field: str, message: str, *, where: str = "body", code: str = "invalid"
) -> Invalid:
    """A 422 naming one field."""
    return Invalid(
        f"invalid input: {field}",
        errors=[{"field": field, "in": where, "message": message, "code": code}],
    )


def problem_response(
    status: int,
    *,
    kind: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    slug, title = _TITLES.get(status, ("error", "Error"))
    body: dict[str, object] = {
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


def _field_name(location: tuple[int | str, ...]) -> str:
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
        raw = list(exc.errors())
        if any(error.get("type") == "json_invalid" for error in raw):
            # Whatever is wrong with the JSON, it is one kind of problem, with no "field".
            return problem_response(
                422,
                kind="invalid-json",
                detail="the request body is not valid JSON",
                instance=request.url.path,
            )
        errors = [
            {
                "field": _field_name(tuple(error.get("loc", ()))),
                "in": str(error.get("loc", ("body",))[0]),
                "message": error.get("msg", "invalid"),
                "code": error.get("type", "invalid"),
            }
            for error in raw
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

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two writes raced past the use case's own checks; the database kept one. The
        # constraint's name stays in the log: it tells an attacker about the schema.
        log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem_response(
            409,
            kind="conflict",
            detail="this conflicts with a record written at the same time; read it and retry",
            instance=request.url.path,
        )
