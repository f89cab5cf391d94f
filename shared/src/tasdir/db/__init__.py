"""The database layer: async engines, the unit of work, repositories, migrations."""

from tasdir.db.engine import create_engine, is_sqlite, session_factory
from tasdir.db.repository import Repository, VersionedProjection
from tasdir.db.tables import InboxFields, MessagingTables, OutboxFields, messaging_tables
from tasdir.db.uow import Inbox, OutboxWriter, UnitOfWork

__all__ = [
    "Inbox",
    "InboxFields",
    "MessagingTables",
    "OutboxFields",
    "OutboxWriter",
    "Repository",
    "UnitOfWork",
    "VersionedProjection",
    "create_engine",
    "is_sqlite",
    "messaging_tables",
    "session_factory",
]
