"""The real pieces around an adapter for tests: settings, a SQLite store and the command layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app import market_factory
from bot.commands.service import CommandService
from bot.settings import Settings
from flows.funds import load_registry
from storage.store import Store

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
"""Enough of a PNG for an upload: the platforms' stand-ins only check the bytes arrive."""

INJECTIONS = ("@everyone", "@here", "<!channel>", "<!here>", "<@U123>", "<@&123>", "<#C1>")
"""User text that pings or links when a platform parses it."""


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: sample data, a SQLite file in tmp_path, no chat tokens unless given.
    Nothing comes from a `.env` file."""
    values: dict[str, Any] = {
        "data_source": "sample",
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/flows.db",
        "chart_dir": tmp_path,
        "slack_bot_token": None,
        "slack_app_token": None,
        "slack_signing_secret": None,
        "discord_token": None,
        "discord_guild_id": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def command_service(settings: Settings) -> tuple[Store, CommandService]:
    store = await Store.open(settings.database_url)
    service = CommandService(
        store, load_registry(settings.funds_file), settings, market_factory(settings)
    )
    return store, service


def chart(tmp_path: Path, name: str = "alert-chart.png") -> Path:
    path = tmp_path / name
    path.write_bytes(PNG)
    return path
