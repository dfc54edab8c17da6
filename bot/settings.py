"""Settings from the environment and `.env` (environment variables win). See `.env.example`."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Market data and models
    data_source: str = Field("live", description="live | sample | path to a directory of CSVs")
    crypto_exchange: str = Field("bitstamp", description="ccxt exchange id for crypto bars")
    liquidity_exchanges: list[str] = Field(
        default_factory=lambda: ["coinbase", "binance", "kraken", "bitstamp"],
        description="ccxt exchange ids whose spot volume is the crypto liquidity yardstick",
    )
    funds_file: Path | None = Field(None, description="fund registry TOML; built-in if unset")
    neutral_band_pct_adv: float = Field(
        0.1, ge=0, description="|trade| at or below this % of ADV is reported as neutral"
    )

    # Positioning (perpetual-futures history and ETF flows)
    derivatives_exchange: str = Field(
        "binanceusdm", description="ccxt exchange id for perpetual OI/funding/long-short history"
    )
    positioning_price_band_pct: float = Field(0.5, ge=0, description="price dead band, %")
    positioning_oi_band_pct: float = Field(1.0, ge=0, description="open-interest dead band, %")
    positioning_funding_weight: float = Field(0.25, ge=0, le=0.5)
    positioning_threshold_usd: float = Field(
        2.5e8, gt=0, description="positioning alert: forced flow of a covering/liquidation day"
    )
    etf_flow_threshold_usd: float = Field(5.0e8, gt=0, description="etf_flows alert: one day")
    etf_flow_5d_threshold_usd: float = Field(
        1.5e9, gt=0, description="etf_flows alert: trailing 5 sessions"
    )

    # Storage
    database_url: str = Field("sqlite+aiosqlite:///flows-bot.db")

    # Several processes on one PostgreSQL database (docs/scale.md)
    worker_id: str | None = Field(
        None, description="this process's name in logs and outbox leases; default host-pid"
    )
    outbox_lease_seconds: float = Field(
        60.0, gt=0, description="how long a claimed delivery stays reserved for one process"
    )
    leader_retry_seconds: float = Field(
        15.0, gt=0, description="how often a standby tries to become the monitors' leader"
    )
    tick_interval_seconds: float | None = Field(
        None, gt=0, description="also run the monitors every N seconds (default: daily only)"
    )

    # Monitors
    post_time_utc: str = Field("13:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    countdown_steps: list[int] = Field(default_factory=lambda: [9, 4, 1, 0])
    drift_threshold_pct_adv: float | None = Field(
        None,
        gt=0,
        description="default drift alert threshold, % of the liquidity yardstick; unset: the "
        "per-asset USD defaults chosen from the data (bot/monitors/thresholds.py)",
    )
    drift_threshold_usd: float | None = Field(
        None, gt=0, description="default drift threshold in USD; wins over the % of ADV one"
    )
    letf_minutes_before_close: int = Field(30, ge=1, le=390)
    letf_threshold_usd: float = Field(1.0e9, gt=0)
    gamma_rolloff_share: float = Field(
        0.3, gt=0, le=1, description="gamma alert before an expiry holding this share of gamma"
    )
    gamma_rolloff_days: int = Field(
        1, ge=1, le=14, description="how many days before such an expiry the alert posts"
    )
    net_flow_threshold_usd: float = Field(
        500e6,
        gt=0,
        description="net_flow digest: post when the day's net mechanical flow reaches this "
        "(or the verdict is mechanical)",
    )
    chart_dir: Path = Path("flows-charts")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "flows-bot",
        description="small derived files (the NYSE session table); safe to delete",
    )

    # Track record
    track_since: dt.date = Field(
        dt.date(2021, 1, 1), description="first window of the history record (track, alerts)"
    )
    track_fill_time_utc: str = Field(
        "01:30",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="daily time (UTC) the live record's outcomes are filled in",
    )

    # Chat platforms
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_http_port: int = 3000
    slack_client_id: str | None = Field(
        None, description="OAuth: install the app in many workspaces (with the client secret)"
    )
    slack_client_secret: str | None = None
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    slack_redirect_uri: str | None = Field(
        None, description="OAuth redirect URL registered with the app (…/slack/oauth_redirect)"
    )
    discord_token: str | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_guild_id: int | None = None
    discord_shard_count: int | None = Field(
        None, ge=1, description="total gateway shards (Discord requires shards past 2,500 guilds)"
    )
    discord_shard_ids: str | None = Field(
        None, description="comma-separated shards this process runs, e.g. 0,1 (with the count)"
    )
    discord_auto_shard: bool = Field(
        False, description="run every shard Discord recommends in this process (AutoShardedClient)"
    )

    log_level: str = "INFO"

    @property
    def slack_configured(self) -> bool:
        """Any Slack setting is set: `run` starts the Slack adapter and `doctor` checks it."""
        return bool(
            self.slack_bot_token
            or self.slack_app_token
            or self.slack_signing_secret
            or self.slack_client_id
            or self.slack_client_secret
        )

    def analytics_config(self, *, with_garch: bool = True):
        """The analytics settings every command and monitor runs with (neutral band, liquidity
        exchanges); the monitors skip the GARCH fit."""
        from flows.status import AnalyticsConfig  # pandas: not at settings load

        return AnalyticsConfig(
            neutral_band_pct_adv=self.neutral_band_pct_adv,
            spot_exchanges=tuple(self.liquidity_exchanges),
            with_garch=with_garch,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
