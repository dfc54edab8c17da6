"""Cheaper deliveries to write: the fan-out of alerts to 100,000 subscriptions in one tick.

- No foreign keys: PostgreSQL's per-row foreign-key triggers were about 0.8 s of a 1.7 s
  insert. Alerts are never deleted, a delivery's alert is inserted in the same transaction, and
  the one path that deletes subscriptions (`remove_subscriptions`) clears the references itself.
- One index where there were two: the unique (alert_id, subscription_id) becomes unique
  (subscription_id, alert_id), which also serves the lookups by subscription that the separate
  subscription_id index served (about 0.15–0.2 s of the same insert).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_deliveries_subscription_id", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_alert_id_alerts", type_="foreignkey")
        batch.drop_constraint("fk_deliveries_subscription_id_subscriptions", type_="foreignkey")
        batch.drop_constraint("uq_deliveries_alert_id_subscription_id", type_="unique")
        batch.create_unique_constraint(
            "uq_deliveries_subscription_id_alert_id", ["subscription_id", "alert_id"]
        )


def downgrade() -> None:
    # References left dangling while the keys were off (a subscription removed while a tick
    # was writing its deliveries) would fail the new constraint: clear them first.
    op.execute(
        "UPDATE deliveries SET subscription_id = NULL WHERE subscription_id IS NOT NULL "
        "AND subscription_id NOT IN (SELECT id FROM subscriptions)"
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_subscription_id_alert_id", type_="unique")
        batch.create_unique_constraint(
            "uq_deliveries_alert_id_subscription_id", ["alert_id", "subscription_id"]
        )
        batch.create_foreign_key(
            "fk_deliveries_alert_id_alerts", "alerts", ["alert_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            "fk_deliveries_subscription_id_subscriptions",
            "subscriptions",
            ["subscription_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_deliveries_subscription_id", "deliveries", ["subscription_id"])
