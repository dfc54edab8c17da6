"""`/flows track` through the platform-neutral command layer, and `ask` about accuracy."""

from __future__ import annotations

import re

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
    # On the sample data a few buy/sell calls have known outcomes (more as the clock moves on).
    assert re.search(r"\b\d+ of \d+ calls right \(\d+ %, 95 % CI ", message.summary)
    assert re.fullmatch(r"latest 12 of \d+ windows", message.body.splitlines()[0])
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


# ------------------------------------------------------------------------------ ask


@pytest.mark.parametrize(
    "question",
    [
        "how accurate are the rebalancing calls for BTC?",
        "What is the track record for bitcoin?",
        "How often were your BTC calls right?",
    ],
)
def test_accuracy_questions_are_read_as_such(question):
    from flows.questions import parse_question

    parsed = parse_question(question)
    assert parsed.asks == "accuracy" and parsed.about_flows and parsed.assets == ("BTC",)


async def test_ask_how_accurate_answers_from_the_track_record(tmp_path):
    import datetime as dt

    from flows.funds import load_registry
    from flows.marketdata import MarketData
    from flows.marketdata.csvdir import CsvDirectorySource
    from flows.questions import answer_question
    from flows.track import build_track
    from tests.test_track import CONFIG, FUNDS_TOML, write_market

    market_dir = write_market(tmp_path / "market")
    funds = tmp_path / "funds.toml"
    funds.write_text(FUNDS_TOML, encoding="utf-8")
    registry = load_registry(funds)
    market = MarketData(CsvDirectorySource(market_dir))
    try:
        answer = await answer_question(
            "how accurate are the rebalancing calls for BTC?",
            market,
            registry,
            dt.date(2024, 12, 31),
            today=dt.date(2026, 1, 1),
        )
        record = await build_track(
            "BTC", market, registry, dt.date(2022, 10, 1), dt.date(2024, 12, 31), config=CONFIG
        )
    finally:
        await market.close()
    assert answer.answer.reason is None
    (channel,) = answer.breakdown[0].channels
    assert channel.source == "track_record"
    # The same record `flows-bot track` computes, from the windows the data supports.
    assert channel.track_record.n == record.summary.n
    assert channel.track_record.hits == record.summary.hits
    assert f"{record.summary.hits} of {record.summary.n} calls right" in answer.answer.text
    assert answer.answer.text.startswith("BTC: rebalancing calls over")
