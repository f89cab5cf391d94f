"""outbox: per-row retry with backoff (first_failed_at, next_attempt_at)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from tasdir.db.migrations import add_outbox_retry_columns, drop_outbox_retry_columns

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_retry_columns()


def downgrade() -> None:
    drop_outbox_retry_columns()
