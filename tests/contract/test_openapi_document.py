"""The OpenAPI document of the embedded app tells the truth about errors, and the answers that
the fuzzing (tests/fuzz) found undocumented stay fixed, one example each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support.tokens import bearer
from tasdir.errors import PROBLEM_JSON
from tasdir.settings import Settings
from tasdir_cli.embedded import build_app

SETTINGS = Settings(environment="development")
PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = build_app(tmp_path, SETTINGS, seeders=[])
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


async def test_every_error_of_every_route_is_problem_json(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) >= 17
    for (method, path), operation in found.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM, (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_the_routes_document_auth_roles_ids_bodies_and_their_own_errors(
    document: dict[str, Any],
) -> None:
    def statuses(method: str, path: str) -> set[str]:
        return set(operations(document)[(method, path)]["responses"])

    assert statuses("PATCH", "/v1/providers/{provider_id}") == {
        "200", "401", "403", "404", "409", "413", "415", "422", "429", "503",
    }  # fmt: skip
    assert statuses("GET", "/v1/providers") == {"200", "401", "422", "429", "503"}
    # No path parameter, yet a 404: the route says so itself.
    assert "404" in statuses("GET", "/v1/exporters/me")
    assert statuses("GET", "/healthz") == {"200"}
    provider = operations(document)[("GET", "/v1/providers/{provider_id}")]
    assert provider["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_links_name_operations_that_exist(document: dict[str, Any]) -> None:
    ids = {operation["operationId"] for operation in operations(document).values()}
    created = operations(document)[("POST", "/v1/providers")]["responses"]["201"]["links"]
    assert created["GetProvider"]["parameters"] == {"provider_id": "$response.body#/id"}
    links = [
        link
        for operation in operations(document).values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert links
    for link in links:
        assert link["operationId"] in ids
        assert "x-tasdir-route" not in link
    listing = operations(document)[("GET", "/v1/reference/countries")]["responses"]["200"]
    assert listing["links"]["next_page"]["parameters"] == {"cursor": "$response.body#/next_cursor"}


async def test_the_idempotency_key_is_documented_as_the_server_checks_it(
    document: dict[str, Any],
) -> None:
    (header,) = [
        parameter
        for parameter in operations(document)[("POST", "/v1/providers")]["parameters"]
        if parameter["name"] == "Idempotency-Key"
    ]
    assert header["schema"]["type"] == "string"
    assert header["schema"]["pattern"] == "^[!-~]{1,255}$"


async def test_a_405_allows_every_method_served_at_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request(
        "OPTIONS", "/v1/providers/4f7a1c9e-9d2b-4a53-8a53-2f6f1f9c2d11", headers=bearer(SETTINGS)
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"
    assert response.headers["content-type"] == PROBLEM_JSON
    assert (await client.delete("/v1/providers", headers=bearer(SETTINGS))).headers[
        "allow"
    ] == "GET, POST"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe{", b'{"name": "\xc3"}', b"[" * 100_000 + b"]" * 100_000],
    ids=["not-utf8", "truncated-utf8", "nested-too-deep"],
)
async def test_a_body_that_does_not_parse_is_a_422_invalid_json(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/v1/providers",
        content=body,
        headers={"Content-Type": "application/json", **bearer(SETTINGS, "admin")},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].endswith("/invalid-json")
