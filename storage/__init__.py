"""Persistence of flows-bot: subscriptions, monitor state, the alert outbox and the bar cache.

Everything goes through `Store`; nothing outside this package writes SQL. The schema is versioned
with Alembic migrations shipped in `storage/migrations/` (`upgrade_database`, run by `Store.open`).
"""

from storage.database import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    database_url_from_env,
    normalize_database_url,
)
from storage.migrate import current_revision, head_revision, upgrade_database
from storage.models import (
    ALERT_KINDS,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    PLATFORMS,
    SUBSCRIPTION_ACTIVE,
    SUBSCRIPTION_BROKEN,
    Alert,
    Bar,
    ChannelSetting,
    Delivery,
    MonitorState,
    Subscription,
)
from storage.store import BAR_COLUMNS, BarCoverage, NewAlert, Store

__all__ = [
    "ALERT_KINDS",
    "BAR_COLUMNS",
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "DELIVERY_FAILED",
    "DELIVERY_PENDING",
    "DELIVERY_SENT",
    "PLATFORMS",
    "SUBSCRIPTION_ACTIVE",
    "SUBSCRIPTION_BROKEN",
    "Alert",
    "Bar",
    "BarCoverage",
    "ChannelSetting",
    "Delivery",
    "MonitorState",
    "NewAlert",
    "Store",
    "Subscription",
    "current_revision",
    "database_url_from_env",
    "head_revision",
    "normalize_database_url",
    "upgrade_database",
]
