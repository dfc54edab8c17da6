"""Persistence of flows-bot: subscriptions, monitor state, the alert outbox, the bar cache and
the reference cache (earnings dates, fund AUM: `Store.reference`).

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
    EarningsDate,
    FundAum,
    MonitorState,
    Subscription,
)
from storage.reference import CachedAum, CachedDates, ReferenceCache
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
    "CachedAum",
    "CachedDates",
    "ChannelSetting",
    "Delivery",
    "EarningsDate",
    "FundAum",
    "MonitorState",
    "NewAlert",
    "ReferenceCache",
    "Store",
    "Subscription",
    "current_revision",
    "database_url_from_env",
    "head_revision",
    "normalize_database_url",
    "upgrade_database",
]
