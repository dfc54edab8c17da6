"""Positioning caches: daily perpetual-futures history and daily ETF flows, kept so history grows
beyond what exchanges and providers serve.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "derivatives_history",
        sa.Column("exchange", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("open_interest_usd", sa.Float(), nullable=False),
        sa.Column("funding_rate", sa.Float(), nullable=True),
        sa.Column("long_short_ratio", sa.Float(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exchange", "asset", "date", name=op.f("pk_derivatives_history")),
    )
    op.create_table(
        "etf_flow_days",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("fund", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("flow_usd", sa.Float(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "fund", "date", name=op.f("pk_etf_flow_days")),
    )
    op.create_index(
        op.f("ix_etf_flow_days_asset_date"), "etf_flow_days", ["asset", "date"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_etf_flow_days_asset_date"), table_name="etf_flow_days")
    op.drop_table("etf_flow_days")
    op.drop_table("derivatives_history")
