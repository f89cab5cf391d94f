"""The unit of work owns the transaction. Services and handlers add; only the UoW commits."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tasdir.contracts import Envelope, IntegrationEvent, utcnow
from tasdir.correlation import current_causation_id, current_correlation_id
from tasdir.db.tables import MessagingTables


class OutboxWriter:
    """Writes events into the outbox in the caller's transaction; the relay publishes them."""

    def __init__(self, session: AsyncSession, model: Any, producer: str) -> None:
        self._session = session
        self._model = model
        self._producer = producer

    def add(
        self,
        event: IntegrationEvent,
        *,
        aggregate_id: object,
        aggregate_version: int,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> Envelope:
        envelope = Envelope.wrap(
            event,
            producer=self._producer,
            aggregate_id=str(aggregate_id),
            aggregate_version=aggregate_version,
            correlation_id=correlation_id or current_correlation_id(),
            causation_id=causation_id if causation_id is not None else current_causation_id(),
        )
        self._session.add(
            self._model(
                event_id=str(envelope.event_id),
                event_type=envelope.type,
                aggregate_id=envelope.aggregate_id,
                aggregate_version=envelope.aggregate_version,
                correlation_id=envelope.correlation_id,
                body=envelope.model_dump_json(),
                created_at=utcnow(),
            )
        )
        return envelope


class Inbox:
    """Which events a consumer has applied; written in the handler's own transaction."""

    def __init__(self, session: AsyncSession, model: Any) -> None:
        self._session = session
        self._model = model

    async def seen(self, consumer: str, event_id: str) -> bool:
        query = select(col(self._model.event_id)).where(
            col(self._model.consumer) == consumer, col(self._model.event_id) == event_id
        )
        return (await self._session.exec(query)).first() is not None

    def record(self, consumer: str, envelope: Envelope) -> None:
        self._session.add(
            self._model(
                consumer=consumer,
                event_id=str(envelope.event_id),
                event_type=envelope.type,
                processed_at=utcnow(),
            )
        )


class UnitOfWork:
    """`async with uow: ...; await uow.commit()`. Leaving without a commit rolls back."""

    session: AsyncSession
    outbox: OutboxWriter
    inbox: Inbox

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], tables: MessagingTables, producer: str
    ) -> None:
        self._sessions = sessions
        self._tables = tables
        self.producer = producer

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.outbox = OutboxWriter(self.session, self._tables.outbox, self.producer)
        self.inbox = Inbox(self.session, self._tables.inbox)
        self._open_repositories()
        return self

    def _open_repositories(self) -> None:
        """Services attach their repositories to `self.session` here."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
