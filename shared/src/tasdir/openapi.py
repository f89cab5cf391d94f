"""The OpenAPI document says every status a route can answer, each error as problem+json.

FastAPI documents only a route's success and a 422 in `application/json`. This adds, per route,
what the platform can answer around it:

| status | when |
|---|---|
| 401 | the route needs a principal (no token, a bad one) |
| 403 | the route admits only some roles |
| 404 | the path names a resource (absent, or not yours) |
| 409 | a write (a duplicate, a state that forbids it, an `Idempotency-Key` in flight) |
| 413, 415 | the route takes a body |
| 422 | the route takes any input |
| 429 | the route needs a principal (rate limit) |
| 503 | the route needs a principal (identity provider unreachable) |

Every error response is `application/problem+json` with the `Problem` schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tasdir.errors import PROBLEM_JSON, ProblemDetails
from tasdir.routing import needs_principal, roles_of

_DESCRIPTIONS = {
    "401": "No token, or a token that is expired, wrongly signed or malformed.",
    "403": "The principal's role may not use this route.",
    "404": "Absent, or not yours.",
    "409": "A conflict: a duplicate, a state that forbids the action, or a request with this "
    "Idempotency-Key still in flight.",
    "413": "The body is larger than the limit.",
    "415": "The body is not application/json.",
    "422": "Invalid input: each invalid field is named in `errors`, or the body is not JSON "
    "(`invalid-json`).",
    "429": "Rate-limited; `Retry-After` says when to try again.",
    "503": "A dependency is unreachable (the identity provider, the database).",
}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def statuses(route: APIRoute) -> set[str]:
    """The error statuses `route` can answer."""
    found: set[str] = set()
    if needs_principal(route):
        found |= {"401", "429", "503"}
        if roles_of(route) is not None:
            found.add("403")
    if route.dependant.path_params:
        found.add("404")
    if (route.methods or set()) & _WRITES:
        found.add("409")
    if route.body_field is not None:
        found |= {"413", "415", "422"}
    if (
        route.dependant.query_params
        or route.dependant.path_params
        or route.dependant.header_params
        or _has_nested_params(route)
    ):
        found.add("422")
    return found


def _has_nested_params(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.query_params or dependency.header_params or dependency.path_params:
            return True
        stack.extend(dependency.dependencies)
    return False


def _problem_response(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }
    if status in ("429", "503"):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def document_problems(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`app.openapi`, with the problem responses of every route and the `Problem` schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        for route in app.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            path = schema["paths"].get(route.path_format, {})
            for method in route.methods or ():
                operation = path.get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses(route)):
                    responses[status] = _problem_response(status)
        # FastAPI's own 422 schemas are no longer referenced.
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    return openapi


__all__ = ["document_problems", "statuses"]
