"""Initial schema: subscriptions, monitor state, the alert outbox, the bar cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("kinds", sa.String(255), nullable=False),
        sa.Column("threshold_usd", sa.Float(), nullable=True),
        sa.Column("threshold_pct_adv", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("broken_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "channel",
            "user",
            "asset",
            name="uq_subscriptions_platform_workspace_channel_user_asset",
        ),
    )
    op.create_index("ix_subscriptions_asset_status", "subscriptions", ["asset", "status"])

    op.create_table(
        "monitor_state",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("kind", "asset", name="pk_monitor_state"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("chart_path", sa.Text(), nullable=True),
        sa.Column("trade_usd", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("dedupe_key", name="uq_alerts_dedupe_key"),
    )
    op.create_index("ix_alerts_asset_created_at", "alerts", ["asset", "created_at"])

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("platform_message_id", sa.String(128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name="fk_deliveries_alert_id_alerts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_deliveries_subscription_id_subscriptions",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "alert_id", "subscription_id", name="uq_deliveries_alert_id_subscription_id"
        ),
    )
    op.create_index(
        "ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_deliveries_subscription_id", "deliveries", ["subscription_id"])

    op.create_table(
        "bar_cache",
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.Column("adj_close", sa.Float(), nullable=False),
        sa.Column("fetched_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "symbol", "date", name="pk_bar_cache"),
    )


def downgrade() -> None:
    op.drop_table("bar_cache")
    op.drop_index("ix_deliveries_subscription_id", table_name="deliveries")
    op.drop_index("ix_deliveries_status_next_attempt_at", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_alerts_asset_created_at", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("monitor_state")
    op.drop_index("ix_subscriptions_asset_status", table_name="subscriptions")
    op.drop_table("subscriptions")
