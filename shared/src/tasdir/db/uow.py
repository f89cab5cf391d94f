"""The unit of work owns the transaction. Use cases and handlers add; only the UoW commits.

It writes the events an aggregate raises into the outbox, in the same transaction as the
aggregate's own rows (`emit`), and runs the hooks its caller registered just before it commits
(`before_commit`): the HTTP layer records an idempotent response that way, so a use case never
sees an HTTP type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tasdir.contracts import Envelope, IntegrationEvent, utcnow
from tasdir.correlation import current_causation_id, current_correlation_id
from tasdir.db.signals import NOTIFY_OUTBOX, outbox_committed, session_key
from tasdir.db.tables import InboxFields, MessagingTables, OutboxFields


class Aggregate(Protocol):
    """What the outbox needs of an aggregate: its id, and the version its last event made."""

    @property
    def id(self) -> UUID: ...

    @property
    def version(self) -> int: ...


class OutboxWriter:
    """Writes events into the outbox in the caller's transaction; the relay publishes them."""

    def __init__(self, session: AsyncSession, model: type[OutboxFields], producer: str) -> None:
        self._session = session
        self._model = model
        self._producer = producer
        # Rows added since the last commit: a commit that wrote some wakes the relay.
        self.written = 0

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
        self.written += 1
        return envelope


class Inbox:
    """Which events a consumer has applied; written in the handler's own transaction."""

    def __init__(self, session: AsyncSession, model: type[InboxFields]) -> None:
        self._session = session
        self._model = model

    async def seen(self, consumer: str, event_id: str) -> bool:
        query = select(col(self._model.event_id)).where(
            col(self._model.consumer) == consumer, col(self._model.event_id) == event_id
        )
        return (await self._session.exec(query)).first() is not None

    async def seen_among(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Which of `event_ids` this consumer has applied: one query for a batch."""
        query = select(col(self._model.event_id)).where(
            col(self._model.consumer) == consumer, col(self._model.event_id).in_(event_ids)
        )
        return set((await self._session.exec(query)).all())

    def record(self, consumer: str, envelope: Envelope) -> None:
        self.record_all(consumer, [envelope])

    def record_all(self, consumer: str, envelopes: Sequence[Envelope]) -> None:
        """Rows for applied events; added together, so that the commit's flush inserts them
        in one statement."""
        now = utcnow()
        self._session.add_all(
            [
                self._model(
                    consumer=consumer,
                    event_id=str(envelope.event_id),
                    event_type=envelope.type,
                    processed_at=now,
                )
                for envelope in envelopes
            ]
        )


CommitHook = Callable[["UnitOfWork", object], None]


class UnitOfWorkPort(Protocol):
    """What a use case needs of a unit of work, besides its repositories. Services extend it
    with theirs; unit tests give the use cases a fake that keeps everything in memory."""

    def emit(self, aggregate: Aggregate, event: IntegrationEvent) -> object: ...

    async def commit(self, result: object = None) -> None: ...


class UnitOfWork:
    """`async with uow: ...; await uow.commit()`. Leaving without a commit rolls back."""

    session: AsyncSession
    outbox: OutboxWriter
    inbox: Inbox

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], tables: MessagingTables, producer: str
    ) -> None:
        self._sessions = sessions
        self.tables = tables
        self.producer = producer
        self._hooks: list[CommitHook] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.outbox = OutboxWriter(self.session, self.tables.outbox, self.producer)
        self.inbox = Inbox(self.session, self.tables.inbox)
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

    def emit(self, aggregate: Aggregate, event: IntegrationEvent) -> Envelope:
        """Write the event an aggregate raised into the outbox, with its id and version."""
        return self.outbox.add(
            event, aggregate_id=aggregate.id, aggregate_version=aggregate.version
        )

    def before_commit(self, hook: CommitHook) -> None:
        """Run `hook(uow, result)` in the transaction, just before the next commit."""
        self._hooks.append(hook)

    async def commit(self, result: object = None) -> None:
        """Commit. `result` is what the use case answers; the hooks get it. A commit that wrote
        outbox rows wakes the relay (`tasdir.db.signals`)."""
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook(self, result)
        wrote, self.outbox.written = self.outbox.written, 0
        if wrote and self.session.get_bind().dialect.name == "postgresql":
            # Delivered by the server at commit, and only if the transaction commits.
            await (await self.session.connection()).execute(text(NOTIFY_OUTBOX))
        await self.session.commit()
        if wrote:
            outbox_committed(session_key(self.session))

    async def rollback(self) -> None:
        await self.session.rollback()
