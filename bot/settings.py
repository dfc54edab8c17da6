"""Settings from the environment and `.env` (environment variables win). See `.env.example`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Market data and models
    data_source: str = Field("live", description="live | sample | path to a directory of CSVs")
    crypto_exchange: str = Field("bitstamp", description="ccxt exchange id for crypto bars")
    funds_file: Path | None = Field(None, description="fund registry TOML; built-in if unset")
    neutral_band_pct_adv: float = Field(
        0.1, ge=0, description="|trade| at or below this % of ADV is reported as neutral"
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
        1.0, gt=0, description="default drift alert threshold, % of 20-day ADV"
    )
    drift_threshold_usd: float | None = Field(
        None, gt=0, description="default drift threshold in USD; wins over the % of ADV one"
    )
    letf_minutes_before_close: int = Field(30, ge=1, le=390)
    letf_threshold_usd: float = Field(1.0e9, gt=0)
    chart_dir: Path = Path("flows-charts")

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
