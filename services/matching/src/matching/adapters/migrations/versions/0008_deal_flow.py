"""matching: the deal flow (audit trail, referrals and their steps, access log, notifications)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "match_set",
        sa.Column("event_version", sa.Integer(), nullable=False, server_default="0"),
    )
    # Every set so far emitted one event per version.
    op.execute("UPDATE match_set SET event_version = version")
    op.create_table(
        "match_set_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("action", _string(20), nullable=False),
        sa.Column("actor", _string(256), nullable=False),
        sa.Column("actor_role", _string(20), nullable=False),
        sa.Column("match_set_version", sa.Integer(), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_match_set_audit_request_id", "match_set_audit", ["request_id"])
    op.create_table(
        "referral",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("exporter_id", sa.Uuid(), nullable=False),
        sa.Column("org", _string(128), nullable=False),
        sa.Column("region", _string(64), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.JSON(), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("bundle", sa.JSON(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("sent_at", _when(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("offer_decision", _string(20), nullable=True),
        sa.Column("decided_at", _when(), nullable=True),
        sa.Column("offer_valid_until", _when(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "product_id", name="uq_referral_request_product"),
    )
    op.create_index("ix_referral_request_id", "referral", ["request_id"])
    op.create_index("ix_referral_exporter_id", "referral", ["exporter_id"])
    op.create_index("ix_referral_region", "referral", ["region"])
    op.create_index("ix_referral_offer_valid_until", "referral", ["offer_valid_until"])
    op.create_index("ix_referral_provider_sent", "referral", ["provider_id", "sent_at"])
    op.create_index("ix_referral_org_sent", "referral", ["org", "sent_at"])
    op.create_table(
        "referral_step",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _string(32), nullable=False),
        sa.Column("actor", _string(256), nullable=False),
        sa.Column("actor_role", _string(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_referral_step_referral_id", "referral_step", ["referral_id"])
    op.create_table(
        "access_log",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("exporter_id", sa.Uuid(), nullable=False),
        sa.Column("org", _string(128), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("viewer", _string(256), nullable=False),
        sa.Column("viewer_role", _string(20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_exporter_id", "access_log", ["exporter_id"])
    op.create_index("ix_access_log_org_id", "access_log", ["org", "id"])
    op.create_table(
        "notification",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("audience", _string(200), nullable=False),
        sa.Column("kind", _string(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("dedupe_key", _string(200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_audience_id", "notification", ["audience", "id"])
    op.create_index("ix_notification_dedupe_key", "notification", ["dedupe_key"], unique=True)
    cursor = op.create_table(
        "notification_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(cursor, [{"id": 1, "last_id": 0}])


def downgrade() -> None:
    op.drop_table("notification_cursor")
    op.drop_table("notification")
    op.drop_table("access_log")
    op.drop_table("referral_step")
    op.drop_table("referral")
    op.drop_table("match_set_audit")
    op.drop_column("match_set", "event_version")
