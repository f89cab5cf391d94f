"""All queries of exporters. None of them commits."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import cast
from uuid import UUID

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from tasdir.db import AggregateRepository, VersionedProjection
from tasdir.json_types import JsonObject
from tasdir.pagination import Page, PageParams

from exporters.adapters.orm import (
    ConsentRow,
    ExporterRow,
    FinancingRequestRow,
    ProviderProjection,
    ReferralProjection,
)
from exporters.domain.consent import Consent
from exporters.domain.exporter import Exporter, ExportLine
from exporters.domain.financing_request import Buyer, FinancingRequest


class ExporterRepository(AggregateRepository[Exporter, ExporterRow]):
    aggregate = Exporter
    row_model = ExporterRow

    def from_columns(self, values: dict[str, object]) -> dict[str, object]:
        lines = cast(Sequence[JsonObject], values["exports"])
        values["exports"] = tuple(
            ExportLine(
                hs_code=str(line["hs_code"]),
                destination=str(line["destination"]),
                share_pct=Decimal(str(line["share_pct"])),
            )
            for line in lines
        )
        values["hs_chapters"] = tuple(str(values["hs_chapters"]).split())
        return values

    def to_columns(self, values: dict[str, object]) -> dict[str, object]:
        lines = cast(Sequence[ExportLine], values["exports"])
        values["exports"] = [
            {"hs_code": x.hs_code, "destination": x.destination, "share_pct": str(x.share_pct)}
            for x in lines
        ]
        chapters = cast(Sequence[str], values["hs_chapters"])
        values["hs_chapters"] = f" {' '.join(chapters)} "
        return values

    async def by_org(self, org: str) -> Exporter | None:
        return await self.first(select(ExporterRow).where(ExporterRow.org == org))

    async def by_ice(self, ice: str) -> Exporter | None:
        return await self.first(select(ExporterRow).where(ExporterRow.ice == ice))

    async def listing(
        self,
        params: PageParams,
        *,
        regions: Sequence[str] | None,
        hs_chapter: str | None = None,
        mono_market: bool | None = None,
    ) -> Page[Exporter]:
        """Oldest first, the id breaking ties; `regions=None` means every region."""
        where: list[ColumnElement[bool]] = []
        if regions is not None:
            where.append(col(ExporterRow.region).in_(list(regions)))
        if hs_chapter is not None:
            where.append(col(ExporterRow.hs_chapters).like(f"% {hs_chapter} %"))
        if mono_market is not None:
            where.append(col(ExporterRow.is_mono_market).is_(mono_market))
        return await self.page(
            params, order_by=(col(ExporterRow.created_at), col(ExporterRow.id)), where=where
        )


class FinancingRequestRepository(AggregateRepository[FinancingRequest, FinancingRequestRow]):
    aggregate = FinancingRequest
    row_model = FinancingRequestRow

    def from_columns(self, values: dict[str, object]) -> dict[str, object]:
        buyer = cast(JsonObject | None, values["buyer"])
        values["buyer"] = (
            None if buyer is None else Buyer(str(buyer["name"]), str(buyer["country"]))
        )
        return values

    def to_columns(self, values: dict[str, object]) -> dict[str, object]:
        buyer = cast(Buyer | None, values["buyer"])
        values["buyer"] = None if buyer is None else {"name": buyer.name, "country": buyer.country}
        return values

    async def listing(
        self,
        params: PageParams,
        *,
        org: str | None = None,
        regions: Sequence[str] | None = None,
        status: str | None = None,
    ) -> Page[FinancingRequest]:
        """Oldest first. An exporter's own (`org`), an advisor's (`regions`), or all."""
        where: list[ColumnElement[bool]] = []
        if org is not None:
            where.append(col(FinancingRequestRow.org) == org)
        if regions is not None:
            where.append(col(FinancingRequestRow.region).in_(list(regions)))
        if status is not None:
            where.append(col(FinancingRequestRow.status) == status)
        order = (col(FinancingRequestRow.created_at), col(FinancingRequestRow.id))
        return await self.page(params, order_by=order, where=where)


class ConsentRepository(AggregateRepository[Consent, ConsentRow]):
    aggregate = Consent
    row_model = ConsentRow

    async def of(self, exporter_id: UUID, provider_id: UUID) -> Consent | None:
        query = (
            select(ConsentRow)
            .where(ConsentRow.exporter_id == exporter_id, ConsentRow.provider_id == provider_id)
            .with_for_update()
        )
        return await self.first(query)

    async def listing(self, params: PageParams, *, exporter_id: UUID) -> Page[Consent]:
        return await self.page(
            params,
            order_by=(col(ConsentRow.created_at), col(ConsentRow.id)),
            where=[col(ConsentRow.exporter_id) == exporter_id],
        )


class ProviderProjectionRepository(VersionedProjection[ProviderProjection]):
    model = ProviderProjection

    async def is_known(self, provider_id: UUID) -> bool:
        """Known from the provider events, and active."""
        found = await self.get(provider_id)
        return found is not None and found.status == "active"


class ReferralProjectionRepository(VersionedProjection[ReferralProjection]):
    model = ReferralProjection

    async def declined(self, request_id: UUID) -> int:
        """How many referrals of the request are declined."""
        query = select(func.count()).where(
            ReferralProjection.request_id == request_id, ReferralProjection.status == "declined"
        )
        return int((await self.session.exec(query)).one())
