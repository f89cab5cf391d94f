"""exporters: the full profile, financing requests, consents, the referral projection

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from tasdir.db.types import ExactDecimal

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("exporter") as batch:
        batch.add_column(sa.Column("legal_form", _string(100), nullable=True))
        batch.add_column(sa.Column("founded_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("exporting_since", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("employees", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("annual_turnover_mad", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("export_turnover_mad", ExactDecimal(), nullable=True))
        batch.add_column(
            sa.Column("exports", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("audited_accounts", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("collateral_available_mad", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("export_share_pct", sa.Float(), nullable=True))
        batch.add_column(sa.Column("is_mono_market", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("is_mono_product", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("hs_chapters", _string(1000), nullable=False, server_default=" ")
        )
        batch.create_index("ix_exporter_is_mono_market", ["is_mono_market"])
        batch.create_index("ix_exporter_region_created", ["region", "created_at", "id"])

    op.create_table(
        "financing_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("exporter_id", sa.Uuid(), nullable=False),
        sa.Column("org", _string(128), nullable=False),
        sa.Column("region", _string(64), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("instrument", _string(64), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("currency", _string(3), nullable=False),
        sa.Column("tenor_days", sa.Integer(), nullable=False),
        sa.Column("destination", _string(2), nullable=False),
        sa.Column("hs_codes", sa.JSON(), nullable=False),
        sa.Column("purpose", _string(32), nullable=False),
        sa.Column("payment_terms", _string(32), nullable=False),
        sa.Column("needed_by", sa.Date(), nullable=True),
        sa.Column("buyer", sa.JSON(), nullable=True),
        sa.Column("referrals_expected", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_financing_request_exporter_id", "financing_request", ["exporter_id"])
    op.create_index(
        "ix_financing_request_org_created", "financing_request", ["org", "created_at", "id"]
    )
    op.create_index(
        "ix_financing_request_region_created",
        "financing_request",
        ["region", "created_at", "id"],
    )

    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("exporter_id", sa.Uuid(), nullable=False),
        sa.Column("org", _string(128), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exporter_id", "provider_id"),
    )
    op.create_index("ix_consent_exporter_id", "consent", ["exporter_id"])

    op.create_table(
        "referral_projection",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("aggregate_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_referral_projection_request_id", "referral_projection", ["request_id"])


def downgrade() -> None:
    op.drop_table("referral_projection")
    op.drop_table("consent")
    op.drop_table("financing_request")
    with op.batch_alter_table("exporter") as batch:
        batch.drop_index("ix_exporter_region_created")
        batch.drop_index("ix_exporter_is_mono_market")
        for column in (
            "hs_chapters",
            "is_mono_product",
            "is_mono_market",
            "export_share_pct",
            "collateral_available_mad",
            "audited_accounts",
            "exports",
            "export_turnover_mad",
            "annual_turnover_mad",
            "employees",
            "exporting_since",
            "founded_year",
            "legal_form",
        ):
            batch.drop_column(column)
