"""The database layer: async engines, the unit of work, repositories, migrations."""

from tasdir.db.engine import create_engine, is_sqlite, session_factory
from tasdir.db.repository import AggregateRepository, Repository, VersionedProjection
from tasdir.db.tables import InboxFields, MessagingTables, OutboxFields, messaging_tables
from tasdir.db.uow import Aggregate, Inbox, OutboxWriter, UnitOfWork, UnitOfWorkPort

__all__ = [
    "Aggregate",
    "AggregateRepository",
    "Inbox",
    "InboxFields",
    "MessagingTables",
    "OutboxFields",
    "OutboxWriter",
    "Repository",
    "UnitOfWork",
    "UnitOfWorkPort",
    "VersionedProjection",
    "create_engine",
    "is_sqlite",
    "messaging_tables",
    "session_factory",
]
