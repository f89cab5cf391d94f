"""What an attacker found by sending bad input, each one fixed everywhere it applies:
a 500 without its correlation id or its connection, the body read before authentication,
truncated JSON naming a byte offset, a non-JSON body, a slash redirect echoing `Host`,
duplicate writes racing into a 500, codes outside the reference data, Unicode digits, NUL,
controls and bidi overrides in text."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from credit_products.bootstrap import definition as credit_products
from exporters.bootstrap import definition as exporters
from fastapi import FastAPI
from support.apps import sqlite_runtime
from support.tokens import bearer
from tasdir.api import create_app
from tasdir.routing import service_router
from tasdir.service import ServiceRuntime
from tasdir.settings import Settings

SETTINGS = Settings(environment="development", rate_limit_per_minute=0)
crashes = service_router(prefix="/v1/exporters/test", tags=["test"])


@crashes.get("/crash")
async def crash() -> None:
    raise RuntimeError("secret internals")


def digits(ascii_digits: str, zero: int) -> str:
    """The same number in another script's digits (Arabic-Indic: 0x0660, fullwidth: 0xFF10)."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


def exporter(n: int = 1, **changes: Any) -> dict[str, Any]:
    return {"legal_name": f"Atlas {n}", "ice": f"{n:015d}", "region": "oriental", **changes}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    runtimes: list[ServiceRuntime[Any]] = [
        await sqlite_runtime(exporters, tmp_path, SETTINGS),
        await sqlite_runtime(credit_products, tmp_path, SETTINGS),
    ]
    application = create_app("hardening", runtimes, SETTINGS)
    application.include_router(crashes)
    yield application
    for runtime in runtimes:
        await runtime.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions stays on: an app that re-raised after its 500 would fail here.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def problem(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if kind is not None:
        assert body["type"].endswith(f"/{kind}"), body
    return body


# ------------------------------------------------------------------ items 6 and 14


async def test_a_500_carries_the_correlation_id_and_is_not_re_raised(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/exporters/test/crash", headers={"X-Correlation-ID": "c-500"})
    problem(response, 500, "internal-error")
    assert response.headers["x-correlation-id"] == "c-500"
    made = await client.get("/v1/exporters/test/crash")
    assert len(made.headers["x-correlation-id"]) == 36


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, dict[str, str]]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers["content-length"]))
    return status, headers


async def test_a_500_keeps_the_keep_alive_connection(app: FastAPI) -> None:
    async with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, headers = await _exchange(reader, writer, "/v1/exporters/test/crash")
            assert status == 500 and headers.get("connection") != "close"
            assert headers["x-correlation-id"]
            # The same connection serves the next request.
            status, _ = await _exchange(reader, writer, "/healthz")
            assert status == 200
        finally:
            writer.close()


# ------------------------------------------------------------------ item 16


@pytest.mark.parametrize("path", ["/v1/exporters/", "/v1/providers/", "/healthz/"])
async def test_no_slash_redirect_reflects_the_host_header(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"Host": "evil.example"})
    problem(response, 404)
    assert "location" not in response.headers


# ------------------------------------------------------------------ item 17

MALFORMED = [b"{not json", b'{"legal_name": "x"', b"[", b'"string', b"\x00", b"{}}"]


@pytest.mark.parametrize("body", MALFORMED)
async def test_an_unauthenticated_malformed_body_is_a_401(
    client: httpx.AsyncClient, body: bytes
) -> None:
    for path in ("/v1/exporters", "/v1/providers"):
        response = await client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        problem(response, 401, "missing-token")


@pytest.mark.parametrize("body", MALFORMED)
async def test_malformed_json_is_one_problem_type_whatever_the_error(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/v1/exporters",
        content=body,
        headers={**bearer(SETTINGS, "exporter"), "Content-Type": "application/json"},
    )
    found = problem(response, 422, "invalid-json")
    assert "errors" not in found  # no byte offset posing as a field


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_a_body_that_is_not_json_is_a_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = bearer(SETTINGS, "admin")
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/v1/providers", content=b'{"name": "x"}', headers=headers)
    problem(response, 415, "unsupported-media-type")
    # JSON with a charset, or a +json type, is JSON.
    ok = await client.post(
        "/v1/providers",
        content=b'{"name": "Banque", "kind": "bank", "country": "MA"}',
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201, ok.text


# ------------------------------------------------------------------ item 3


async def test_ten_identical_registrations_racing_give_one_201_and_nine_409(
    client: httpx.AsyncClient,
) -> None:
    headers = bearer(SETTINGS, "exporter", sub="racer", org="racing-org")
    answers = await asyncio.gather(
        *(client.post("/v1/exporters", json=exporter(), headers=headers) for _ in range(10))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 9, [a.text for a in answers if a.status_code != 409]
    for answer in answers:
        if answer.status_code == 409:
            problem(answer, 409)


# ------------------------------------------------------------------ items 7, 12 and 13

BAD_EXPORTER_FIELDS = [
    ({"region": "atlantis"}, "region"),
    ({"region": "Souss-Massa"}, "region"),
    ({"ice": digits("001234567000089", 0x0660)}, "ice"),  # Arabic-Indic digits
    ({"ice": digits("001234567000089", 0xFF10)}, "ice"),  # fullwidth digits
    ({"legal_name": "Atlas\u0000Agrumes"}, "legal_name"),
    ({"legal_name": "   "}, "legal_name"),
    ({"legal_name": "A\u202eB"}, "legal_name"),
    ({"legal_name": "A\u2066B"}, "legal_name"),
    ({"legal_name": "Atlas\nAgrumes"}, "legal_name"),
    ({"legal_name": "Atlas\u200bAgrumes"}, "legal_name"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_EXPORTER_FIELDS)
async def test_a_bad_exporter_field_is_a_422_naming_it_and_writes_nothing(
    client: httpx.AsyncClient, changes: dict[str, str], field: str
) -> None:
    headers = bearer(SETTINGS, "exporter")
    response = await client.post("/v1/exporters", json=exporter(**changes), headers=headers)
    found = problem(response, 422)
    assert [e["field"] for e in found["errors"]] == [field]
    problem(await client.get("/v1/exporters/me", headers=headers), 404)


async def test_unicode_digits_do_not_make_a_second_company(client: httpx.AsyncClient) -> None:
    first = await client.post(
        "/v1/exporters",
        json=exporter(ice="000000000000000"),
        headers=bearer(SETTINGS, "exporter", org="a"),
    )
    assert first.status_code == 201
    twin = await client.post(
        "/v1/exporters",
        json=exporter(ice=digits("0" * 15, 0x0660)),
        headers=bearer(SETTINGS, "exporter", org="b"),
    )
    problem(twin, 422)


async def test_text_is_trimmed_and_normalised(client: httpx.AsyncClient) -> None:
    # "é" written as e + combining acute: stored composed (NFC), trimmed.
    response = await client.post(
        "/v1/exporters",
        json=exporter(legal_name="  Atlas Cre\u0301ations  "),
        headers=bearer(SETTINGS, "exporter"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["legal_name"] == "Atlas Cr\u00e9ations"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Banque\u0000"}, "name"),
        ({"name": " \t "}, "name"),
        ({"contact": "desk\u202e@x"}, "contact"),
        ({"country": "ZZ"}, "country"),
        ({"country": "ma"}, "country"),
        ({"regions": ["atlantis"]}, "regions"),
    ],
)
async def test_a_bad_provider_field_is_a_422_naming_it(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    body = {"name": "Banque", "kind": "bank", "country": "MA", **changes}
    response = await client.post("/v1/providers", json=body, headers=bearer(SETTINGS, "admin"))
    found = problem(response, 422)
    assert {e["field"].split(".")[0] for e in found["errors"]} == {field}


# ------------------------------------------------------------------ item 18


async def test_a_provider_may_not_change_its_own_kind_or_country(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/providers",
        json={"name": "Banque", "kind": "bank", "country": "MA"},
        headers=bearer(SETTINGS, "admin"),
    )
    provider_id = created.json()["id"]
    own = bearer(SETTINGS, "provider", provider_id=provider_id)
    for change, field in (({"kind": "insurer"}, "kind"), ({"country": "FR"}, "country")):
        response = await client.patch(f"/v1/providers/{provider_id}", json=change, headers=own)
        refused = problem(response, 403, "field-reserved-to-admins")
        assert [e["field"] for e in refused["errors"]] == [field]
    kept = await client.patch(
        f"/v1/providers/{provider_id}",
        json={"contact": "desk@banque.example", "regions": ["oriental"]},
        headers=own,
    )
    assert kept.status_code == 200, kept.text
    assert (kept.json()["kind"], kept.json()["country"], kept.json()["version"]) == (
        "bank",
        "MA",
        2,
    )
    # The admin may.
    admin = await client.patch(
        f"/v1/providers/{provider_id}", json={"kind": "insurer"}, headers=bearer(SETTINGS, "admin")
    )
    assert admin.json()["kind"] == "insurer"


async def test_a_patch_refuses_null_for_a_field_that_takes_a_value(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/providers",
        json={"name": "Banque", "kind": "bank", "country": "MA", "contact": "x@y"},
        headers=bearer(SETTINGS, "admin"),
    )
    url = f"/v1/providers/{created.json()['id']}"
    for name in ("name", "kind", "country", "regions"):
        response = await client.patch(url, json={name: None}, headers=bearer(SETTINGS, "admin"))
        assert [e["field"] for e in problem(response, 422)["errors"]] == [name]
    cleared = await client.patch(url, json={"contact": None}, headers=bearer(SETTINGS, "admin"))
    assert cleared.json()["contact"] is None


async def test_a_role_that_may_never_use_the_route_gets_403_before_its_body_is_read(
    client: httpx.AsyncClient,
) -> None:
    advisor = {**bearer(SETTINGS, "advisor"), "Content-Type": "application/json"}
    malformed = await client.post("/v1/exporters", content=b"{not json", headers=advisor)
    problem(malformed, 403, "forbidden")
    keyed = await client.post(
        "/v1/exporters", json=exporter(), headers={**advisor, "Idempotency-Key": " bad key "}
    )
    problem(keyed, 403, "forbidden")
    not_json = await client.post(
        "/v1/providers",
        content=b"x",
        headers={**bearer(SETTINGS, "exporter"), "Content-Type": "text/plain"},
    )
    problem(not_json, 403, "forbidden")


async def test_a_provider_sending_both_reserved_fields_hears_of_both(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/providers",
        json={"name": "Banque", "kind": "bank", "country": "MA"},
        headers=bearer(SETTINGS, "admin"),
    )
    provider_id = created.json()["id"]
    own = bearer(SETTINGS, "provider", provider_id=provider_id)
    response = await client.patch(
        f"/v1/providers/{provider_id}", json={"kind": "eca", "country": "FR"}, headers=own
    )
    refused = problem(response, 403, "field-reserved-to-admins")
    assert [e["field"] for e in refused["errors"]] == ["country", "kind"]
