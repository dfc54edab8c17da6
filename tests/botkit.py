"""Test doubles for the bot: a recording chat platform and helpers to build a BotApp on sample data.

The recording adapter is a real ChatAdapter; only the network is replaced by an in-memory
'platform' that remembers every message it accepted, keyed by idempotency key (as Discord's nonce
does), so a restart can ask whether a send already went through.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bot.adapters.base import ChatAdapter, CommandHandler, DeliveryError, Destination, Pacing
from bot.app import BotApp
from bot.commands.context import CommandContext
from bot.messages import Message
from bot.settings import Settings
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource


@dataclass
class RecordingPlatform:
    """What the chat platform received: one entry per accepted post."""

    posts: list[tuple[Destination, Message, str]] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)
    attempts: list[tuple[str, float]] = field(default_factory=list)

    def accept(self, destination: Destination, message: Message, key: str) -> str:
        message_id = f"m{len(self.posts) + 1}"
        self.posts.append((destination, message, key))
        self.by_key[key] = message_id
        return message_id


class RecordingAdapter(ChatAdapter):
    """Posts into a RecordingPlatform. `failures` scripts what the next sends raise."""

    def __init__(
        self,
        platform_state: RecordingPlatform,
        platform: str = "console",
        failures: list[DeliveryError | None] | None = None,
        pacing: Pacing | None = None,
        hang_after: int | None = None,
    ) -> None:
        self.platform = platform
        self.pacing = pacing or Pacing(1000, 1.0, 1000)
        self.state = platform_state
        self.failures = list(failures or [])
        self.hang_after = hang_after
        self.hung = asyncio.Event()
        self.handle: CommandHandler | None = None

    async def start(self, handle_command: CommandHandler) -> None:
        self.handle = handle_command

    async def send(self, destination: Destination, message: Message, idempotency_key: str) -> str:
        loop = asyncio.get_running_loop()
        self.state.attempts.append((idempotency_key, loop.time()))
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        if idempotency_key in self.state.by_key:
            # Like Discord's enforced nonce: a repeated key returns the existing message.
            return self.state.by_key[idempotency_key]
        if self.hang_after is not None and len(self.state.posts) >= self.hang_after:
            # The process is dying: later sends never reach the platform.
            await asyncio.Event().wait()
        message_id = self.state.accept(destination, message, idempotency_key)
        if self.hang_after is not None and len(self.state.posts) == self.hang_after:
            # The platform took this message but the process dies before hearing back.
            self.hung.set()
            await asyncio.Event().wait()
        return message_id

    async def find_sent(self, destination: Destination, idempotency_key: str) -> str | None:
        return self.state.by_key.get(idempotency_key)

    async def stop(self) -> None:
        return None

    async def command(self, text: str, channel: str = "trading", user: str = "U1") -> Message:
        assert self.handle is not None
        ctx = CommandContext(self.platform, "W1", channel, user, user_name=user)
        return await self.handle(ctx, text)


def sample_settings(tmp_path: Path, **overrides) -> Settings:
    values = {
        "data_source": "sample",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "chart_dir": tmp_path / "charts",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def sample_app(
    settings: Settings,
    store,
    adapters: list[ChatAdapter],
    today: dt.date | None = dt.date(2026, 11, 20),
) -> BotApp:
    """The bot on sample data ending `today` (pinned by default; None: data up to the real
    today, for checks whose freshness rule compares the data with the calendar)."""
    return BotApp(
        settings,
        store,
        load_registry(settings.funds_file),
        adapters,
        make_market=lambda: MarketData(SampleSource(today=today)),
    )


async def stale_chat_reply(tmp_path: Path, command: str) -> Message:
    """`command`'s reply from a bot whose sample data ends Fri 2026-11-20, asked on Christmas
    2026 (35 days later): what a channel sees when the data source stopped weeks ago."""
    from storage.store import Store
    from tests.clock import moved_clock

    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter], today=dt.date(2026, 11, 20))
    await app.start_adapters()
    try:
        with moved_clock(dt.datetime(2026, 12, 25, 15, tzinfo=dt.UTC)):
            return await adapter.command(command)
    finally:
        await store.close()
