"""The issue's scenarios end to end: the real pipeline (SQLite store, BotApp, command layer,
monitors on sample data, the outbox dispatcher) with the real Slack and Discord adapters, talking
to local stand-ins of both platforms.

The tick runs as of 2026-09-24, four NYSE sessions before the 2026Q3 end, so the quarter-end
countdown fires for a BTC subscription."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.base import AdapterConfigError
from bot.adapters.discord import DiscordAdapter
from bot.adapters.slack import SlackAdapter
from bot.app import BotApp, run_bot
from bot.settings import Settings
from flows.errors import FlowsError
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from storage.store import Store
from tests.standins import wait_until
from tests.standins.discord_server import DiscordStandIn
from tests.standins.pipeline import INJECTIONS, make_settings
from tests.standins.slack_server import SlackStandIn

AS_OF = dt.date(2026, 9, 24)
ONE_SESSION_LEFT = dt.date(2026, 9, 29)
SAMPLE_TODAY = dt.date(2026, 9, 30)
PNG_MAGIC = b"\x89PNG"
GUILD = "800000000000000001"
NO_PINGS = {"parse": []}


class SlackSide:
    """Slack as the trader sees it: slash commands in, messages and uploads out."""

    platform = "slack"
    workspace = "T0TEAM"
    channel = "C0FLOWS"
    other_channel = "C0DESK"

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin

    def settings(self, tmp_path: Path) -> Settings:
        return make_settings(
            tmp_path,
            slack_bot_token=self.standin.bot_token,
            slack_app_token=self.standin.app_token,
            slack_api_url=self.standin.api_url,
        )

    def adapter(self, settings: Settings) -> SlackAdapter:
        return SlackAdapter.from_settings(settings)

    async def command(self, text: str, channel: str | None = None) -> Any:
        before = len(self.standin.responses)
        await self.standin.slash_command(text, channel_id=channel or self.channel)
        await wait_until(lambda: len(self.standin.responses) > before)
        return self.standin.responses[-1]

    def attempts(self, channel: str | None = None) -> list[Any]:
        return [
            call
            for call in self.standin.calls_to("chat.postMessage")
            if call.params["channel"] == (channel or self.channel)
        ]

    def alerts(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [call.params for call in self.attempts(channel) if call.ok]

    def alert_title(self, alert: dict[str, Any]) -> str:
        return alert["blocks"][0]["text"]["text"]

    def chart_bytes(self) -> list[bytes]:
        completed = self.standin.calls_to("files.completeUploadExternal")
        assert all(c.params["channel_id"] == self.channel for c in completed)
        return list(self.standin.uploads.values())

    def rate_limit_next(self, seconds: int) -> None:
        self.standin.fail(
            "chat.postMessage", "ratelimited", status=429, headers={"Retry-After": str(seconds)}
        )

    def forbid(self) -> None:
        self.standin.fail("chat.postMessage", "channel_not_found", times=None, channel=self.channel)

    def replies_never_ping(self, replies: list[Any]) -> None:
        text = json.dumps(replies, ensure_ascii=False)
        for marker in ("<!", "<@", "<#", "@everyone", "@here", "@channel"):
            assert marker not in text


class DiscordSide:
    platform = "discord"
    workspace = GUILD
    channel = "800000000000000010"
    other_channel = "800000000000000020"

    def __init__(self, standin: DiscordStandIn) -> None:
        self.standin = standin

    def settings(self, tmp_path: Path) -> Settings:
        return make_settings(
            tmp_path,
            discord_token=self.standin.token,
            discord_api_url=self.standin.api_url,
            discord_guild_id=int(GUILD),
        )

    def adapter(self, settings: Settings) -> DiscordAdapter:
        return DiscordAdapter.from_settings(settings)

    async def command(self, text: str, channel: str | None = None) -> Any:
        name, _, rest = text.partition(" ")
        if name == "watch":
            asset, _, kinds = rest.partition(" ")
            options: dict[str, Any] = {"asset": asset, **({"kinds": kinds} if kinds else {})}
        else:
            options = {"question": rest}
        before = len(self.standin.followups)
        callback = await self.standin.slash_command(
            name, options, channel_id=channel or self.channel
        )
        if callback["type"] == 5:
            await wait_until(lambda: len(self.standin.followups) > before)
            return self.standin.followups[-1]
        return callback["data"]

    def attempts(self, channel: str | None = None) -> list[Any]:
        return self.standin.channel_posts(channel or self.channel)

    def alerts(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [r.payload for r in self.attempts(channel) if r.status == 200]

    def alert_title(self, alert: dict[str, Any]) -> str:
        assert alert["allowed_mentions"] == NO_PINGS
        assert alert["embeds"][0]["image"]["url"] == "attachment://chart.png"
        return alert["embeds"][0]["title"]

    def chart_bytes(self) -> list[bytes]:
        return [r.files["files[0]"][1] for r in self.attempts() if r.status == 200]

    def rate_limit_next(self, seconds: int) -> None:
        self.standin.fail(
            "POST /channels/{channel}/messages",
            429,
            {"message": "You are being rate limited.", "retry_after": seconds, "global": False},
            headers={"Retry-After": str(seconds), "Via": "1.1 google"},
        )

    def forbid(self) -> None:
        self.standin.fail(
            "POST /channels/{channel}/messages",
            403,
            {"message": "Missing Access", "code": 50001},
            times=None,
            channel=self.channel,
        )

    def replies_never_ping(self, replies: list[Any]) -> None:
        assert all(reply["allowed_mentions"] == NO_PINGS for reply in replies)


@pytest.fixture(params=["slack", "discord"])
async def side(request) -> AsyncIterator[SlackSide | DiscordSide]:
    if request.param == "slack":
        slack = await SlackStandIn().start()
        yield SlackSide(slack)
        await slack.close()
    else:
        discord = await DiscordStandIn().start()
        yield DiscordSide(discord)
        await discord.close()


@pytest.fixture
async def app(side, tmp_path) -> AsyncIterator[BotApp]:
    settings = side.settings(tmp_path)
    store = await Store.open(settings.database_url)
    bot = BotApp(
        settings,
        store,
        load_registry(settings.funds_file),
        [side.adapter(settings)],
        make_market=lambda: MarketData(SampleSource(today=SAMPLE_TODAY)),
    )
    await bot.start_adapters()
    yield bot
    await bot.dispatcher.stop()
    await bot.stop_adapters()
    await store.close()


async def subscription(app: BotApp, side) -> Any:
    [row] = await app.store.list_subscriptions(
        platform=side.platform, workspace=side.workspace, channel=side.channel
    )
    return row


async def test_subscribe_by_slash_command_then_the_alert_arrives_with_its_chart(side, app):
    reply = await side.command("watch BTC quarter_end")
    result = await app.tick(AS_OF)
    await app.dispatcher.drain()

    assert reply is not None
    assert ("quarter_end", "BTC") in [(a.kind, a.asset) for a in result.alerts]
    [alert] = side.alerts()
    assert "BTC · quarter-end countdown" in side.alert_title(alert)
    assert "[SAMPLE]" in side.alert_title(alert)
    [png] = side.chart_bytes()
    assert png.startswith(PNG_MAGIC)
    [delivery] = await app.store.deliveries_for(
        (await app.store.get_alert(result.alerts[0].key)).id
    )
    assert delivery.status == "sent"
    assert delivery.platform_message_id


async def test_a_429_is_sent_once_after_the_retry_after_delay(side, app):
    await side.command("watch BTC quarter_end")
    side.rate_limit_next(1)
    await app.tick(AS_OF)
    await app.dispatcher.drain()

    # Slack: the dispatcher scheduled the retry; Discord: discord.py waited inside the send.
    async def delivered() -> None:
        while not side.alerts():
            await asyncio.sleep(0.1)
            await app.dispatcher.drain()

    await asyncio.wait_for(delivered(), timeout=5)
    limited, accepted = side.attempts()
    assert len(side.alerts()) == 1
    assert accepted.at - limited.at >= 1.0


async def test_a_forbidden_channel_breaks_its_subscription_and_gets_nothing_more(side, app):
    await side.command("watch BTC quarter_end")
    await side.command("watch BTC quarter_end", channel=side.other_channel)
    side.forbid()
    await app.tick(AS_OF)
    await app.dispatcher.drain()

    broken = await subscription(app, side)
    assert broken.status == "broken"
    assert len(side.attempts()) == 1

    later = await app.tick(ONE_SESSION_LEFT)
    await app.dispatcher.drain()
    assert later.deliveries == 1, "the next countdown goes to the healthy channel only"
    assert len(side.attempts()) == 1
    assert len(side.alerts(side.other_channel)) == 2


async def test_mention_injection_in_commands_never_pings(side, app):
    replies = []
    for injection in INJECTIONS:
        replies.append(await side.command(f"watch BTC {injection}"))
        replies.append(await side.command(f"ask will {injection} buy BTC"))

    side.replies_never_ping(replies)
    rows = await app.store.list_subscriptions(
        platform=side.platform, workspace=side.workspace, channel=side.channel
    )
    assert rows == [], "every injected command was refused"


# ---------------------------------------------------------------------------- start-up errors


def _flows_bot() -> list[str]:
    script = Path(sys.executable).with_name("flows-bot")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


async def test_flows_bot_run_with_a_rejected_token_exits_2_with_one_clear_line(tmp_path):
    slack = await SlackStandIn().start()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "DATA_SOURCE", "DATABASE_URL"))
    }
    env.update(
        DATA_SOURCE="sample",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        CHART_DIR=str(tmp_path),
        SLACK_BOT_TOKEN="xoxb-revoked",
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.api_url,
    )
    try:
        process = await asyncio.create_subprocess_exec(
            *_flows_bot(),
            "run",
            "--once",
            "--no-input",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr_bytes = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await slack.close()

    stderr = stderr_bytes.decode()
    assert process.returncode == 2, stderr
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        "flows-bot run: error: SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)"
    ], stderr
    assert [c.method for c in slack.calls] == ["auth.test"], "it stopped at the rejected token"


async def test_run_bot_stops_on_a_rejected_discord_token(tmp_path):
    discord = await DiscordStandIn().start()
    settings = make_settings(tmp_path, discord_token="not-a-token", discord_api_url=discord.api_url)
    try:
        with pytest.raises(AdapterConfigError) as raised:
            await run_bot(settings, once=True, interactive=False)
    finally:
        await discord.close()

    assert str(raised.value) == "DISCORD_TOKEN was rejected by Discord (401)"
    assert isinstance(raised.value, FlowsError), "the CLI prints FlowsError as one line, exit 2"


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"slack_bot_token": "xoxb-1"}, "SLACK_APP_TOKEN"),
        ({"slack_app_token": "xapp-1"}, "SLACK_BOT_TOKEN"),
        ({"slack_signing_secret": "secret"}, "SLACK_BOT_TOKEN"),
    ],
)
async def test_run_bot_names_a_missing_variable(tmp_path, values, variable):
    with pytest.raises(AdapterConfigError, match=variable):
        await run_bot(make_settings(tmp_path, **values), once=True, interactive=False)
