"""matching: projections of requests and consents, the catalogue sequence, match entries

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_CHANGED = ("exporter_projection", "provider_projection", "product_projection")


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "request_projection",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("exporter_id", sa.Uuid(), nullable=False),
        sa.Column("org", _string(128), nullable=False),
        sa.Column("region", _string(64), nullable=True),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("aggregate_version", sa.Integer(), nullable=False),
        sa.Column("changed_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_projection_status", "request_projection", ["status"])
    op.create_index("ix_request_projection_changed_seq", "request_projection", ["changed_seq"])
    op.create_index(
        "ix_request_projection_exporter_status", "request_projection", ["exporter_id", "status"]
    )
    op.create_table(
        "consent_projection",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("exporter_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("aggregate_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_consent_projection_pair", "consent_projection", ["exporter_id", "provider_id"]
    )
    state = op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(state, [{"id": 1, "seq": 0}])
    for table in _CHANGED:
        op.add_column(
            table,
            sa.Column("changed_seq", sa.Integer(), nullable=False, server_default="0"),
        )
        op.create_index(f"ix_{table}_changed_seq", table, ["changed_seq"])
    op.add_column(
        "match_set",
        sa.Column("request_version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "match_entry",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "product_id"),
    )
    op.create_index("ix_match_entry_product_id", "match_entry", ["product_id"])


def downgrade() -> None:
    op.drop_table("match_entry")
    op.drop_column("match_set", "request_version")
    for table in _CHANGED:
        op.drop_index(f"ix_{table}_changed_seq", table)
        op.drop_column(table, "changed_seq")
    op.drop_table("catalogue_state")
    op.drop_table("consent_projection")
    op.drop_table("request_projection")
