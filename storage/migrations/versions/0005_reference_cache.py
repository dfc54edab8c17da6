"""Reference-data cache: companies' earnings dates and listed funds' AUM.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "earnings_dates",
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "report_date", name=op.f("pk_earnings_dates")),
    )
    op.create_table(
        "fund_aum",
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("aum_usd", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticker", name=op.f("pk_fund_aum")),
    )


def downgrade() -> None:
    op.drop_table("fund_aum")
    op.drop_table("earnings_dates")
