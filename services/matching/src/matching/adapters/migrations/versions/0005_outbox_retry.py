"""outbox: per-row retry with backoff (first_failed_at, next_attempt_at)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from tasdir.db.migrations import add_outbox_retry_columns, drop_outbox_retry_columns

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_retry_columns()


def downgrade() -> None:
    drop_outbox_retry_columns()
