"""Live track record: every sized alert with its estimate, and its outcome once known.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("alert_kind", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("estimate_as_of", sa.Date(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("estimated_trade_usd", sa.Float(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("benchmark", sa.String(length=32), nullable=True),
        sa.Column("data_source", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome_return", sa.Float(), nullable=True),
        sa.Column("outcome_excess", sa.Float(), nullable=True),
        sa.Column("hit", sa.Boolean(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("outcome_filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_flow_usd", sa.Float(), nullable=True),
        sa.Column("actual_flow_source", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_live_records_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_records")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_live_records_dedupe_key")),
    )
    op.create_index(
        op.f("ix_live_records_asset_window_end"), "live_records", ["asset", "window_end"]
    )
    op.create_index(
        op.f("ix_live_records_outcome_filled_at_window_end"),
        "live_records",
        ["outcome_filled_at", "window_end"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_live_records_outcome_filled_at_window_end"), table_name="live_records")
    op.drop_index(op.f("ix_live_records_asset_window_end"), table_name="live_records")
    op.drop_table("live_records")
