"""The schema: SQLModel tables for subscriptions, monitor state, the alert outbox and the bar cache.

The Alembic migrations in `storage/migrations/versions/` must build exactly these tables; a test
compares the two, so change both together (see `storage/migrations/README.md`).

Conventions:
- Timestamps are timezone-aware UTC datetimes in Python (`UTCDateTime`); SQLite stores them naive.
- "No user" / "no workspace" is the empty string, never NULL, because SQL unique constraints treat
  NULLs as distinct and a channel could then be subscribed to one asset twice.
- Per-channel mutes live in their own table (`channel_settings`), not on subscription rows, so a
  mute also covers subscriptions added while it is in force.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

PLATFORMS = ("console", "slack", "discord")
ALERT_KINDS = (
    "quarter_end",
    "drift",
    "vol",
    "letf",
    "calendar",
    "positioning",
    "etf_flows",
    "gamma",
    "net_flow",
)
"""The alert kinds known today; the schema does not restrict `kinds` to these."""

SUBSCRIPTION_ACTIVE = "active"
SUBSCRIPTION_BROKEN = "broken"

DELIVERY_PENDING = "pending"
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so that migrations can refer to them (SQLite batch mode needs
named constraints to drop or alter them)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    Binding requires an aware datetime (a naive one is a bug: whose local time?) and converts it to
    UTC; SQLite gets it naive, PostgreSQL as `timestamptz`. Reading always returns aware UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware UTC time")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


_registry = registry(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))


class StorageModel(SQLModel, registry=_registry):
    """Base of every table here: its own MetaData, so only these tables are migrated."""


metadata = StorageModel.metadata


class Subscription(StorageModel, table=True):
    """A channel (or a user's DM) watching one asset for some alert kinds."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.UniqueConstraint("platform", "workspace", "channel", "user", "asset"),
        sa.Index(None, "asset", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=sa.String(16))
    """console | slack | discord"""
    workspace: str = Field(default="", sa_type=sa.String(64))
    """Slack team id / Discord guild id; '' for the console and DMs."""
    channel: str = Field(sa_type=sa.String(128))
    user: str = Field(default="", sa_type=sa.String(64))
    """The user of a DM subscription; '' for a channel subscription."""
    asset: str = Field(sa_type=sa.String(32))
    kinds: str = Field(sa_type=sa.String(255))
    """Comma-separated alert kinds, e.g. `quarter_end,drift,vol`; see `alert_kinds`."""
    threshold_usd: float | None = Field(default=None, sa_type=sa.Float)
    threshold_pct_adv: float | None = Field(default=None, sa_type=sa.Float)
    created_by: str = Field(default="", sa_type=sa.String(64))
    created_by_id: str = Field(
        default="", sa_type=sa.String(64), sa_column_kwargs={"server_default": ""}
    )
    """The platform user id of `created_by`: whom to DM when the channel breaks."""
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(default=SUBSCRIPTION_ACTIVE, sa_type=sa.String(16))
    """active | broken (the platform refused to post there: bot removed, channel deleted…)"""
    broken_reason: str | None = Field(default=None, sa_type=sa.Text)

    @property
    def alert_kinds(self) -> tuple[str, ...]:
        return split_kinds(self.kinds)

    @property
    def is_active(self) -> bool:
        return self.status == SUBSCRIPTION_ACTIVE


class ChannelSetting(StorageModel, table=True):
    """Per-channel settings; today only a mute."""

    __tablename__ = "channel_settings"

    platform: str = Field(primary_key=True, sa_type=sa.String(16))
    workspace: str = Field(primary_key=True, sa_type=sa.String(64))
    channel: str = Field(primary_key=True, sa_type=sa.String(128))
    muted_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MonitorState(StorageModel, table=True):
    """What a monitor last saw for an asset (countdown step, drift band, vol regime…), as JSON."""

    __tablename__ = "monitor_state"

    kind: str = Field(primary_key=True, sa_type=sa.String(32))
    asset: str = Field(primary_key=True, sa_type=sa.String(32))
    state: str = Field(sa_type=sa.Text)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.state)


class Alert(StorageModel, table=True):
    """One alert event, written once (its dedupe key is unique) and delivered many times."""

    __tablename__ = "alerts"
    __table_args__ = (sa.Index(None, "asset", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(sa_type=sa.String(200), unique=True)
    """Stable identity of the event, `kind:asset:period:step`, e.g. `quarter_end:BTC:2026Q4:4`."""
    kind: str = Field(sa_type=sa.String(32))
    asset: str = Field(sa_type=sa.String(32))
    as_of: dt.date = Field(sa_type=sa.Date)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    title: str = Field(sa_type=sa.Text)
    summary: str = Field(default="", sa_type=sa.Text)
    content: str = Field(sa_type=sa.Text)
    """The rendered platform-neutral message as JSON text; see `content_data`."""
    chart_path: str | None = Field(default=None, sa_type=sa.Text)
    trade_usd: float | None = Field(default=None, sa_type=sa.Float)
    direction: str | None = Field(default=None, sa_type=sa.String(16))

    @property
    def content_data(self) -> Any:
        return json.loads(self.content)


class Delivery(StorageModel, table=True):
    """One alert to one subscription: the outbox row the dispatcher drains.

    The target (platform, workspace, channel, user) is copied from the subscription so the row
    still says where it went after the subscription is removed (`subscription_id` becomes NULL).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        # Subscription first: the one index serves "this subscription's deliveries" (remove,
        # break) and the one-delivery-per-alert-and-subscription rule (migration 0012).
        sa.UniqueConstraint("subscription_id", "alert_id"),
        sa.Index(None, "status", "next_attempt_at"),
        # Only leased rows: a claim asks "does another worker hold this channel?"; the fan-out
        # inserts (never leased) cost this index nothing.
        sa.Index(
            None,
            "channel",
            "workspace",
            "platform",
            "user",
            sqlite_where=sa.text("lease_until IS NOT NULL"),
            postgresql_where=sa.text("lease_until IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No foreign keys (migration 0012): at 100,000 deliveries per tick their per-row checks
    # cost PostgreSQL about 0.8 s. The alert is written in the same transaction and never
    # deleted; `remove_subscriptions` clears `subscription_id` itself.
    alert_id: int = Field(sa_type=sa.Integer)
    subscription_id: int | None = Field(default=None, sa_type=sa.Integer)
    platform: str = Field(sa_type=sa.String(16))
    workspace: str = Field(default="", sa_type=sa.String(64))
    channel: str = Field(sa_type=sa.String(128))
    user: str = Field(default="", sa_type=sa.String(64))
    status: str = Field(default=DELIVERY_PENDING, sa_type=sa.String(16))
    """pending | sent | failed"""
    attempts: int = Field(default=0, sa_type=sa.Integer)
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attempt_started_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Set by `begin_attempt` just before a send and cleared by its outcome: a pending delivery
    that still has it after a crash may have reached the platform (ask before resending)."""
    claimed_by: str | None = Field(default=None, sa_type=sa.String(128))
    """The worker (`flows-bot run --worker-id`) that last claimed the delivery to send it."""
    lease_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Until when `claimed_by` holds the delivery (and its channel); an expired lease is
    reclaimed by any worker, after asking the platform whether the send went through."""
    platform_message_id: str | None = Field(default=None, sa_type=sa.String(128))
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Bar(StorageModel, table=True):
    """A cached daily bar, so that repeated ticks do not refetch history."""

    __tablename__ = "bar_cache"

    source: str = Field(primary_key=True, sa_type=sa.String(255))
    symbol: str = Field(primary_key=True, sa_type=sa.String(32))
    date: dt.date = Field(primary_key=True, sa_type=sa.Date)
    open: float = Field(sa_type=sa.Float)
    high: float = Field(sa_type=sa.Float)
    low: float = Field(sa_type=sa.Float)
    close: float = Field(sa_type=sa.Float)
    volume: float = Field(sa_type=sa.Float)
    adj_close: float = Field(sa_type=sa.Float)
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StoreRevision(StorageModel, table=True):
    """A counter per table that the store bumps on every write to it, so a process can keep a
    copy of that table in memory and check with one tiny query whether it is still current."""

    __tablename__ = "store_revisions"

    name: str = Field(primary_key=True, sa_type=sa.String(64))
    revision: int = Field(default=0, sa_type=sa.Integer)


class EarningsDate(StorageModel, table=True):
    """A company's report date as a provider listed it (past or upcoming), cached so the
    buyback-blackout estimate does not refetch a hundred companies on every run. A refresh
    replaces all rows of a ticker: a moved date must not linger."""

    __tablename__ = "earnings_dates"

    ticker: str = Field(primary_key=True, sa_type=sa.String(32))
    report_date: dt.date = Field(primary_key=True, sa_type=sa.Date)
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FundAum(StorageModel, table=True):
    """A listed fund's total assets as a provider last reported them, with where they came
    from; refreshed at most daily."""

    __tablename__ = "fund_aum"

    ticker: str = Field(primary_key=True, sa_type=sa.String(32))
    aum_usd: float = Field(sa_type=sa.Float)
    source: str = Field(sa_type=sa.Text)
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OptionChainDay(StorageModel, table=True):
    """One asset's option chain on one day as a provider served it (the columns of
    `flows.options.OptionChain` as JSON), so a day's chain is fetched once and past days stay
    answerable after the provider has moved on."""

    __tablename__ = "option_chains"

    source: str = Field(primary_key=True, sa_type=sa.String(64))
    asset: str = Field(primary_key=True, sa_type=sa.String(32))
    as_of: dt.date = Field(primary_key=True, sa_type=sa.Date)
    description: str = Field(sa_type=sa.Text)
    contracts: int = Field(sa_type=sa.Integer)
    payload: str = Field(sa_type=sa.Text)
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LiveRecord(StorageModel, table=True):
    """One sized alert as the bot sent it: its estimate at the time and, once the window has
    ended, what followed. Only the outcome columns are ever written after the row is created
    (never back-filled with hindsight); `actual_flow_usd` stays NULL unless a published flow
    (ETF creations/redemptions, a holdings change) is known."""

    __tablename__ = "live_records"
    __table_args__ = (
        sa.Index(None, "asset", "window_end"),
        sa.Index(None, "outcome_filled_at", "window_end"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(sa_type=sa.String(200), unique=True)
    """The alert's dedupe key: one live record per alert."""
    alert_id: int | None = Field(
        default=None,
        sa_column_args=[sa.ForeignKey("alerts.id", ondelete="SET NULL")],
        sa_type=sa.Integer,
    )
    alert_kind: str = Field(sa_type=sa.String(32))
    asset: str = Field(sa_type=sa.String(32))
    estimate_as_of: dt.date = Field(sa_type=sa.Date)
    """The data date the estimate was made on (the alert's as-of)."""
    window_start: dt.date = Field(sa_type=sa.Date)
    window_end: dt.date = Field(sa_type=sa.Date)
    estimated_trade_usd: float = Field(sa_type=sa.Float)
    direction: str = Field(sa_type=sa.String(16))
    benchmark: str | None = Field(default=None, sa_type=sa.String(32))
    data_source: str = Field(default="", sa_type=sa.Text)
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    outcome_return: float | None = Field(default=None, sa_type=sa.Float)
    outcome_excess: float | None = Field(default=None, sa_type=sa.Float)
    hit: bool | None = Field(default=None, sa_type=sa.Boolean)
    outcome_note: str | None = Field(default=None, sa_type=sa.Text)
    """Why the outcome is unknown when it cannot be measured (e.g. called on the last session)."""
    outcome_filled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    actual_flow_usd: float | None = Field(default=None, sa_type=sa.Float)
    actual_flow_source: str | None = Field(default=None, sa_type=sa.Text)


def split_kinds(kinds: str) -> tuple[str, ...]:
    return tuple(kind for kind in kinds.split(",") if kind)


def join_kinds(kinds: str | Any) -> str:
    """Canonical text of a set of kinds: lower-case, de-duplicated, in the given order."""
    items = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    seen: list[str] = []
    for item in items:
        kind = str(item).strip().lower()
        if not kind:
            continue
        if not kind.replace("_", "").isalnum():
            raise ValueError(f"invalid alert kind {item!r}")
        if kind not in seen:
            seen.append(kind)
    if not seen:
        raise ValueError("a subscription needs at least one alert kind")
    return ",".join(seen)


class DerivativesDay(StorageModel, table=True):
    """One day of a perpetual's history on one exchange (open interest, funding, long/short),
    cached because exchanges serve only their latest weeks of it: the history grows here."""

    __tablename__ = "derivatives_history"

    exchange: str = Field(primary_key=True, sa_type=sa.String(64))
    asset: str = Field(primary_key=True, sa_type=sa.String(32))
    date: dt.date = Field(primary_key=True, sa_type=sa.Date)
    open_interest_usd: float = Field(sa_type=sa.Float)
    funding_rate: float | None = Field(default=None, sa_type=sa.Float)
    long_short_ratio: float | None = Field(default=None, sa_type=sa.Float)
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EtfFlowDay(StorageModel, table=True):
    """One fund's net creations (USD) on one session, as a source gave it; a later fetch of the
    same day (a restated figure) replaces it."""

    __tablename__ = "etf_flow_days"
    __table_args__ = (sa.Index(None, "asset", "date"),)

    source: str = Field(primary_key=True, sa_type=sa.String(255))
    fund: str = Field(primary_key=True, sa_type=sa.String(32))
    date: dt.date = Field(primary_key=True, sa_type=sa.Date)
    asset: str = Field(sa_type=sa.String(32))
    flow_usd: float = Field(sa_type=sa.Float)
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# Slack apps installed in many workspaces (OAuth, docs/scale.md): the tables of slack-sdk's
# SQLAlchemy installation and OAuth-state stores, with the names and columns those stores expect
# (`bot/adapters/slack_oauth.py` runs the stores on the bot's engine). Kept here so Alembic
# migrates them with everything else. Their times are naive UTC, as slack-sdk writes them.


def _slack_installation_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
    ]


def _slack_bot_columns() -> list[sa.Column[Any]]:
    """The workspace and its bot token, in both tables."""
    return [
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
    ]


slack_installations = sa.Table(
    "slack_installations",
    metadata,
    *_slack_installation_columns(),
    sa.Column("enterprise_url", sa.String(200)),
    *_slack_bot_columns(),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("user_token", sa.String(200)),
    sa.Column("user_scopes", sa.String(1000)),
    sa.Column("user_refresh_token", sa.String(200)),
    sa.Column("user_token_expires_at", sa.DateTime),
    sa.Column("incoming_webhook_url", sa.String(200)),
    sa.Column("incoming_webhook_channel", sa.String(200)),
    sa.Column("incoming_webhook_channel_id", sa.String(200)),
    sa.Column("incoming_webhook_configuration_url", sa.String(200)),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
    sa.Column("token_type", sa.String(32)),
    sa.Column("installed_at", sa.DateTime, nullable=False),
    sa.Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

slack_bots = sa.Table(
    "slack_bots",
    metadata,
    *_slack_installation_columns(),
    *_slack_bot_columns(),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
    sa.Column("installed_at", sa.DateTime, nullable=False),
    sa.Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = sa.Table(
    "slack_oauth_states",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(200), nullable=False),
    sa.Column("expire_at", sa.DateTime, nullable=False),
)
