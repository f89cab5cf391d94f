"""Identical writes racing on PostgreSQL: the database's unique keys keep one, and every other
answer is a 409 problem, never a 500."""

from __future__ import annotations

import asyncio

from exporters.adapters.orm import ExporterRow
from sqlmodel import func, select
from unit.platform.kit import Platform, exporter_body, is_problem


async def test_ten_registrations_of_one_org_give_one_201_and_nine_409(
    platform: Platform,
) -> None:
    headers = platform.auth("racer", org="racing-org")
    async with platform.client() as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/exporters", json=exporter_body(n), headers=headers)
                for n in range(10)
            )
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 9, [a.text for a in answers if a.status_code != 409]
    for answer in answers:
        if answer.status_code == 409:
            is_problem(answer, 409)
    async with platform.runtime.sessions() as session:
        outbox = platform.runtime.tables.outbox
        assert (await session.exec(select(func.count()).select_from(ExporterRow))).one() == 1
        assert (await session.exec(select(func.count()).select_from(outbox))).one() == 1


async def test_ten_registrations_of_one_ice_from_ten_orgs_give_one_201(platform: Platform) -> None:
    async with platform.client() as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/v1/exporters",
                    json=exporter_body(7),
                    headers=platform.auth(f"u{n}", org=f"o{n}"),
                )
                for n in range(10)
            )
        )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9
