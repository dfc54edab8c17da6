"""`/flows track` through the platform-neutral command layer, and `ask` about accuracy."""

from __future__ import annotations

import pytest

from bot.commands.context import CommandContext
from bot.commands.parse import CommandError, parse_command
from tests.standins.pipeline import command_service, make_settings


@pytest.mark.parametrize(
    ("text", "asset", "kinds"),
    [
        ("track BTC", "BTC", ()),
        ("track bitcoin live", "BTC", ("live",)),
        ("track spy monthly", "SPY", ("monthly",)),
    ],
)
def test_parse_track(text, asset, kinds):
    command = parse_command(text)
    assert (command.name, command.asset, command.kinds) == ("track", asset, kinds)


@pytest.mark.parametrize(
    "text", ["track", "track BTC often", "track BTC live monthly", "track DOGE"]
)
def test_parse_track_rejects_bad_input(text):
    with pytest.raises(CommandError):
        parse_command(text)


@pytest.fixture
async def service(tmp_path):
    store, commands = await command_service(make_settings(tmp_path))
    yield commands
    await store.close()


CTX = CommandContext("console", "", "main", "U1", user_name="U1")


async def test_track_reply_has_the_summary_table_and_chart(service):
    message = await service.handle(CTX, "track BTC")
    assert message.title == "BTC track record — quarterly rebalancing windows"
    assert message.sample  # the sample source says SAMPLE DATA
    assert "calls right" in message.summary or "No buy or sell call" in message.summary
    assert message.body.splitlines()[0].startswith("latest 12 of") or "window" in message.body
    assert message.chart_path is not None and message.chart_path.stat().st_size > 10_000
    labels = [field.label for field in message.fields]
    assert labels == ["Calls scored", "Hit rate (95 % CI)", "Mean excess after sells / buys"]


async def test_track_live_without_alerts_says_so(service):
    message = await service.handle(CTX, "track BTC live")
    assert message.title == "BTC track record — live alerts"
    assert message.body == "no records yet"
    assert message.summary.startswith("No buy or sell call")


async def test_track_an_asset_no_program_holds_is_a_short_reply(service):
    message = await service.handle(CTX, "track QQQ")
    assert message.tone == "error"
    assert "no program in the fund registry" in message.summary
