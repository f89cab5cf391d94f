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

A route documents any other error it answers in its own `responses` (`GET /v1/exporters/me`
answers 404 without a path parameter); such a response gets the problem schema too. Every error
response is `application/problem+json` with the `Problem` schema.

Besides:
- a route that needs a principal declares the `bearerAuth` security scheme (a JWT);
- links (OpenAPI 3.1 `links`) say how one answer leads to the next call: a route names the
  target route in `link(...)` and this module writes its `operationId`; every list that takes a
  `cursor` links to its own next page (`$response.body#/next_cursor`).

The routes come from `tasdir.routing.api_routes`: FastAPI keeps an included router's routes
behind one entry of `app.routes`, so a plain walk of `app.routes` finds none of them (this module
documented no error at all until it used `api_routes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tasdir.errors import PROBLEM_JSON, ProblemDetails
from tasdir.routing import api_routes, needs_principal, roles_of

_DESCRIPTIONS = {
    "401": "No token, or a token that is expired, wrongly signed or malformed.",
    "403": "The principal's role may not use this route.",
    "404": "Absent, or not yours.",
    "409": "A conflict: a duplicate, a state that forbids the action, or a request with this "
    "Idempotency-Key still in flight.",
    "413": "The body is larger than the limit.",
    "415": "The body is not application/json.",
    "422": "Invalid input: each invalid field is named in `errors` (a `cursor` that is not the "
    "`next_cursor` of this list is `invalid-cursor`, an `Idempotency-Key` already used with "
    "another body `idempotency-key-reused`), or the body is not JSON (`invalid-json`).",
    "429": "Rate-limited; `Retry-After` says when to try again.",
    "503": "A dependency is unreachable (the identity provider, the database).",
}
# What a route passes as `responses=`.
# A fragment of the OpenAPI document (FastAPI types them as plain dicts).
Fragment = dict[str, Any]
Responses = dict[int | str, Fragment]

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BEARER_SCHEME = "bearerAuth"
_SECURITY_SCHEMES = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT whose claims give the `role`, the `org`, the `provider_id` of a "
        "provider and the `regions` of an advisor.",
    }
}
# A link written by `link()`: the endpoint name of the target route, replaced by its operationId.
_LINK_TARGET = "x-tasdir-route"
NEXT_PAGE_LINK = "next_page"


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
    for declared in route.responses or {}:
        if str(declared).isdigit() and int(declared) >= 400:
            found.add(str(declared))
    return found


def _has_nested_params(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.query_params or dependency.header_params or dependency.path_params:
            return True
        stack.extend(dependency.dependencies)
    return False


def _declared(route: APIRoute, status: str) -> Fragment:
    """What the route's own `responses` says of `status` (keyed by int or by str)."""
    own = route.responses or {}
    found: Fragment = own.get(int(status)) or own.get(status) or {}
    return found


def link(route: str, description: str, **parameters: str) -> Fragment:
    """An OpenAPI link to the route whose endpoint is named `route`, for a route's `responses`:

    responses={201: {"links": {"GetProvider": link("get_provider", "Read it back.",
                                                   provider_id="$response.body#/id")}}}
    """
    found: Fragment = {_LINK_TARGET: route, "description": description}
    if parameters:
        found["parameters"] = dict(parameters)
    return found


def _problem_response(status: str, description: str | None = None) -> Fragment:
    response: Fragment = {
        "description": description or _DESCRIPTIONS.get(status, "An error."),
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }
    if status in ("429", "503"):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def _resolve_links(schema: Fragment, operation_ids: dict[str, list[str]]) -> None:
    for path in schema["paths"].values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                for name, found in response.get("links", {}).items():
                    target = found.pop(_LINK_TARGET, None)
                    if target is None:
                        continue
                    ids = operation_ids.get(target, [])
                    if len(ids) != 1:
                        raise ValueError(
                            f"link {name!r} names route {target!r}, which "
                            + ("no documented route has" if not ids else "is ambiguous")
                        )
                    found["operationId"] = ids[0]


def _next_page_link(operation: Fragment) -> None:
    """A list that takes a `cursor` links its 200 to its own next page."""
    takes_cursor = any(
        parameter.get("in") == "query" and parameter.get("name") == "cursor"
        for parameter in operation.get("parameters", [])
    )
    ok = operation.get("responses", {}).get("200")
    if not takes_cursor or ok is None or "operationId" not in operation:
        return
    ok.setdefault("links", {})[NEXT_PAGE_LINK] = {
        "operationId": operation["operationId"],
        "description": "The next page: `next_cursor` as the `cursor` (null on the last page).",
        "parameters": {"cursor": "$response.body#/next_cursor"},
    }


def document_problems(app: FastAPI) -> Callable[[], Fragment]:
    """`app.openapi`, with the problem responses of every route, the `Problem` schema, the
    bearer security scheme and the links between operations."""

    def openapi() -> Fragment:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        operation_ids: dict[str, list[str]] = {}
        secured = False
        for route, served_at in api_routes(app.routes):
            if not route.include_in_schema:
                continue
            path = schema["paths"].get(served_at, {})
            for method in sorted(route.methods or ()):
                operation = path.get(method.lower())
                if operation is None:
                    continue
                if "operationId" in operation:
                    operation_ids.setdefault(route.name, []).append(operation["operationId"])
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses(route)):
                    declared = _declared(route, status)
                    responses[status] = _problem_response(status, declared.get("description"))
                if needs_principal(route):
                    operation["security"] = [{BEARER_SCHEME: []}]
                    secured = True
                _next_page_link(operation)
        _resolve_links(schema, operation_ids)
        if secured:
            components.setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
        # FastAPI's own 422 schemas are no longer referenced.
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    return openapi


__all__ = ["BEARER_SCHEME", "NEXT_PAGE_LINK", "document_problems", "link", "statuses"]
