from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import Table, delete, func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from tasdir.db import Repository, VersionedProjection
from tasdir.pagination import Page, PageParams, paginate

from matching.adapters.orm import (
    AccessLogEntry,
    AuditEntry,
    CatalogueState,
    ConsentProjection,
    ExporterProjection,
    MatchEntry,
    MatchSet,
    Notification,
    NotificationCursor,
    ProductProjection,
    ProviderProjection,
    Referral,
    ReferralStep,
    RequestProjection,
)

P = TypeVar("P", ExporterProjection, ProviderProjection, ProductProjection, RequestProjection)


class _Changes(VersionedProjection[P]):
    """A projection whose rows record the `catalogue_seq` of their last change."""

    async def mark_changed(self, key: UUID, seq: int) -> None:
        table = self.model.__table__
        (primary,) = table.primary_key.columns
        await self.session.exec(update(table).where(primary == key).values(changed_seq=seq))

    async def mark_all_changed(self, keys: Collection[object], seq: int) -> None:
        """`mark_changed` for several rows in one statement (a batch of events)."""
        table = self.model.__table__
        (primary,) = table.primary_key.columns
        await self.session.exec(
            update(table).where(primary.in_(list(keys))).values(changed_seq=seq)
        )

    async def changed_since(self, seq: int) -> Sequence[P]:
        """The rows changed after `seq` (every row for -1)."""
        query = select(self.model).where(col(self.model.changed_seq) > seq)
        return (await self.session.exec(query)).all()


class ExporterProjectionRepository(_Changes[ExporterProjection]):
    model = ExporterProjection


class ProviderProjectionRepository(_Changes[ProviderProjection]):
    model = ProviderProjection


class ProductProjectionRepository(_Changes[ProductProjection]):
    model = ProductProjection

    async def of_providers(self, provider_ids: Sequence[UUID]) -> Sequence[ProductProjection]:
        query = select(ProductProjection).where(
            col(ProductProjection.provider_id).in_(provider_ids)
        )
        return (await self.session.exec(query)).all()


class RequestProjectionRepository(_Changes[RequestProjection]):
    model = RequestProjection

    async def of_exporters(self, exporter_ids: Sequence[UUID]) -> Sequence[RequestProjection]:
        """The requests of several exporters in one query."""
        query = select(RequestProjection).where(
            col(RequestProjection.exporter_id).in_(exporter_ids)
        )
        return (await self.session.exec(query)).all()


class ConsentProjectionRepository(VersionedProjection[ConsentProjection]):
    model = ConsentProjection

    async def holding(self, exporter_id: UUID, provider_id: UUID, now: datetime) -> bool:
        """Whether the exporter's consent to this provider holds at `now`: granted, and not
        past its `expires_at` (even before the scheduler marks it expired)."""
        query = select(ConsentProjection.id).where(
            ConsentProjection.exporter_id == exporter_id,
            ConsentProjection.provider_id == provider_id,
            ConsentProjection.status == "granted",
            or_(
                col(ConsentProjection.expires_at).is_(None),
                col(ConsentProjection.expires_at) > now,
            ),
        )
        return (await self.session.exec(query.limit(1))).first() is not None

    async def lapsed(self, now: datetime, limit: int) -> Sequence[ConsentProjection]:
        """Granted consents past their `expires_at`, oldest first, locked for the caller."""
        query = (
            select(ConsentProjection)
            .where(
                ConsentProjection.status == "granted",
                col(ConsentProjection.expires_at).is_not(None),
                col(ConsentProjection.expires_at) <= now,
            )
            .order_by(col(ConsentProjection.expires_at), col(ConsentProjection.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(query)).all()


class CatalogueSeq:
    """The counter of catalogue and request changes, bumped in the handler's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump(self) -> int:
        """One step; concurrent bumps serialise on the row (a single active consumer anyway)."""
        result = await self.session.exec(
            update(CatalogueState)
            .where(col(CatalogueState.id) == 1)
            .values(seq=col(CatalogueState.seq) + 1)
            .returning(col(CatalogueState.seq))
        )
        return int(result.scalar_one())

    async def current(self) -> int:
        row = await self.session.get(CatalogueState, 1)
        return 0 if row is None else row.seq


class MatchEntryRepository:
    """Which products each match set holds."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def requests_with(self, product_id: UUID) -> list[UUID]:
        query = select(MatchEntry.request_id).where(MatchEntry.product_id == product_id)
        return list((await self.session.exec(query)).all())

    async def replace(self, request_id: UUID, product_ids: Sequence[UUID]) -> None:
        await self.session.exec(delete(MatchEntry).where(col(MatchEntry.request_id) == request_id))
        self.session.add_all(MatchEntry(request_id=request_id, product_id=p) for p in product_ids)

    async def update(
        self, request_id: UUID, held: Collection[UUID], product_ids: Collection[UUID]
    ) -> None:
        """The entries of a set that held `held` and now holds `product_ids`: only what differs
        is written (a product change adds or removes one of hundreds)."""
        before = set(held)
        gone = before - set(product_ids)
        if gone:
            await self.session.exec(
                delete(MatchEntry).where(
                    (col(MatchEntry.request_id) == request_id)
                    & col(MatchEntry.product_id).in_(gone)
                )
            )
        self.session.add_all(
            MatchEntry(request_id=request_id, product_id=p) for p in product_ids if p not in before
        )


class MatchSetRepository(Repository[MatchSet]):
    model = MatchSet

    async def get_for_update(self, request_id: UUID) -> MatchSet | None:
        query = select(MatchSet).where(MatchSet.request_id == request_id).with_for_update()
        return (await self.session.exec(query)).first()

    async def queue(
        self,
        params: PageParams,
        *,
        regions: Sequence[str] | None,
        status: str | None,
    ) -> Page[MatchSet]:
        """Match sets, oldest first; `regions=None` means every region."""
        query = select(MatchSet)
        if regions is not None:
            query = query.where(col(MatchSet.region).in_(regions))
        if status is not None:
            query = query.where(MatchSet.status == status)
        order = (col(MatchSet.computed_at), col(MatchSet.request_id))
        return await paginate(self.session, query, params, order_by=order)


class AuditRepository(Repository[AuditEntry]):
    model = AuditEntry

    async def of_request(self, request_id: UUID) -> Sequence[AuditEntry]:
        query = (
            select(AuditEntry)
            .where(AuditEntry.request_id == request_id)
            .order_by(col(AuditEntry.at), col(AuditEntry.id))
        )
        return (await self.session.exec(query)).all()


class ReferralRepository(Repository[Referral]):
    model = Referral

    async def get_for_update(self, referral_id: UUID) -> Referral | None:
        query = select(Referral).where(Referral.id == referral_id).with_for_update()
        return (await self.session.exec(query)).first()

    async def of_request(self, request_id: UUID) -> Sequence[Referral]:
        query = (
            select(Referral)
            .where(Referral.request_id == request_id)
            .order_by(col(Referral.sent_at), col(Referral.id))
        )
        return (await self.session.exec(query)).all()

    async def find(self, request_id: UUID, product_id: UUID) -> Referral | None:
        query = select(Referral).where(
            Referral.request_id == request_id, Referral.product_id == product_id
        )
        return (await self.session.exec(query)).first()

    async def page(
        self,
        params: PageParams,
        *,
        provider_id: UUID | None = None,
        org: str | None = None,
        regions: Sequence[str] | None = None,
        request_id: UUID | None = None,
        status: str | None = None,
        offers_only: bool = False,
    ) -> Page[Referral]:
        """Referrals, oldest first, narrowed to what the caller may see."""
        query = select(Referral)
        if provider_id is not None:
            query = query.where(Referral.provider_id == provider_id)
        if org is not None:
            query = query.where(Referral.org == org)
        if regions is not None:
            query = query.where(col(Referral.region).in_(regions))
        if request_id is not None:
            query = query.where(Referral.request_id == request_id)
        if status is not None:
            query = query.where(Referral.status == status)
        if offers_only:
            query = query.where(col(Referral.offer_valid_until).is_not(None))
        order = (col(Referral.sent_at), col(Referral.id))
        return await paginate(self.session, query, params, order_by=order)

    async def lapsed_offers(self, now: datetime, limit: int) -> Sequence[Referral]:
        """Undecided offers past their `valid_until`, locked for the caller."""
        query = (
            select(Referral)
            .where(
                Referral.status == "offer",
                col(Referral.offer_decision).is_(None),
                col(Referral.offer_valid_until) <= now,
            )
            .order_by(col(Referral.offer_valid_until), col(Referral.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(query)).all()

    async def steps(self, referral_id: UUID) -> Sequence[ReferralStep]:
        query = (
            select(ReferralStep)
            .where(ReferralStep.referral_id == referral_id)
            .order_by(col(ReferralStep.id))
        )
        return (await self.session.exec(query)).all()

    def add_step(self, step: ReferralStep) -> None:
        self.session.add(step)


class AccessLogRepository(Repository[AccessLogEntry]):
    model = AccessLogEntry

    async def page(
        self, params: PageParams, *, org: str | None, exporter_id: UUID | None
    ) -> Page[AccessLogEntry]:
        """Disclosures, newest first; `org=None` means every organisation (an admin)."""
        query = select(AccessLogEntry)
        if org is not None:
            query = query.where(AccessLogEntry.org == org)
        if exporter_id is not None:
            query = query.where(AccessLogEntry.exporter_id == exporter_id)
        order = (col(AccessLogEntry.id),)
        return await paginate(self.session, query, params, order_by=order, descending=True)


class NotificationRepository(Repository[Notification]):
    """Stored notifications. `add` is idempotent on its `dedupe_key`."""

    model = Notification

    async def add_once(self, notification: Notification) -> bool:
        """Insert unless a notification with the same `dedupe_key` exists; whether it did."""
        table: Table = Notification.__table__  # type: ignore[attr-defined]
        values = {
            "audience": notification.audience,
            "kind": notification.kind,
            "data": notification.data,
            "created_at": notification.created_at,
            "dedupe_key": notification.dedupe_key,
        }
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(table).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self.session.exec(statement)
        return bool(getattr(result, "rowcount", 0))

    async def after(
        self, audiences: Sequence[str] | None, last_id: int, limit: int
    ) -> Sequence[Notification]:
        """The notifications of these audiences after `last_id`, oldest first;
        `audiences=None` means every audience (an admin)."""
        query = select(Notification).where(col(Notification.id) > last_id)
        if audiences is not None:
            query = query.where(col(Notification.audience).in_(audiences))
        query = query.order_by(col(Notification.id)).limit(limit)
        return (await self.session.exec(query)).all()

    async def page(
        self, params: PageParams, *, audiences: Sequence[str] | None
    ) -> Page[Notification]:
        """Newest first."""
        query = select(Notification)
        if audiences is not None:
            query = query.where(col(Notification.audience).in_(audiences))
        order = (col(Notification.id),)
        return await paginate(self.session, query, params, order_by=order, descending=True)

    async def settled_up_to(self, *, lock_timeout_ms: int = 200) -> int:
        """The newest notification id such that every id up to it is committed or gone for
        good: a stream that has sent it may move past it without ever missing one.

        On PostgreSQL ids are handed out in one order and committed in another, so the newest
        visible id is not enough: `LOCK TABLE ... IN SHARE MODE` waits (at most
        `lock_timeout_ms`, then raises) until no transaction that inserted a notification is
        still open; the caller commits at once to let the writers go on. SQLite writes one
        transaction at a time, so its newest id is settled already."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'"))
            await connection.execute(text("LOCK TABLE notification IN SHARE MODE"))
        newest = (await self.session.exec(select(func.max(col(Notification.id))))).one()
        return int(newest or 0)

    async def published_up_to(self) -> int:
        """The last notification id the dispatcher published (every id up to it is settled)."""
        row = await self.session.get(NotificationCursor, 1)
        return 0 if row is None else row.last_id

    async def cursor_for_update(self) -> NotificationCursor:
        query = select(NotificationCursor).where(NotificationCursor.id == 1).with_for_update()
        row = (await self.session.exec(query)).first()
        if row is None:
            row = NotificationCursor(id=1, last_id=0)
            self.session.add(row)
        return row
