"""`ask` about positioning and real money: the three questions of the issue answered with
numbers from the positioning model (sample data, pinned dates)."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from flows.models.positioning import build_positioning
from flows.positioning.sample import SamplePositioningSource
from flows.questions import answer_question
from flows.questions.parse import parse_question

TODAY = dt.date(2026, 12, 4)  # a Friday: "this week" is Nov 30 - Dec 4


def test_questions_route_to_the_positioning_channels():
    covering = parse_question("are shorts covering in BTC?")
    assert covering.sources == ("positioning",) and covering.assets == ("BTC",)
    assert covering.window is not None and covering.window.words == "this week"
    rally = parse_question("are ETF buyers behind this rally?")
    assert rally.sources == ("etf_flows",) and rally.assets == ("BTC",) and rally.assets_assumed
    week = parse_question("did the bitcoin ETFs see inflows this week?")
    assert week.sources == ("etf_flows",) and week.assets == ("BTC",)
    # Rebalancing questions keep their sources.
    multi = parse_question("For the fourth quarter, are multi asset ETF flows into ether positive?")
    assert multi.sources == ("rebalancing",)


async def _ask(question: str):
    market = MarketData(SampleSource(today=TODAY))
    return await answer_question(question, market, load_registry(None), today=TODAY)


async def _week_report():
    market = MarketData(SampleSource(today=TODAY))
    return await build_positioning(
        "BTC", market, SamplePositioningSource(TODAY), TODAY, 6, today=TODAY
    )


async def test_bitcoin_etf_inflows_this_week_is_the_sum_of_the_week():
    report = await _week_report()
    week = [d for d in report.days if d.date >= dt.date(2026, 11, 30)]
    expected = sum(d.etf_flow_usd for d in week if d.etf_flow_usd is not None)
    answer = await _ask("did the bitcoin ETFs see inflows this week?")
    assert answer.answer.trade_usd == pytest.approx(expected)
    [channel] = answer.breakdown[0].channels
    assert channel.source == "etf_flows" and channel.detail
    word = "outflows" if expected < 0 else "inflows"
    assert f"net {word}" in answer.answer.text and "SAMPLE DATA" in answer.answer.text
    assert "IBIT" in answer.answer.text


async def test_are_shorts_covering_counts_days_and_sizes_the_forced_flow():
    report = await _week_report()
    week = [d for d in report.days if d.date >= dt.date(2026, 11, 30)]
    forced = [d.forced_flow_usd for d in week if d.forced_flow_usd is not None]
    covering = [d for d in week if d.classification == "short_covering"]
    answer = await _ask("are shorts covering in BTC?")
    assert answer.answer.trade_usd == pytest.approx(sum(forced))
    expected = (
        f"Yes: shorts covered on {len(covering)}"
        if covering
        else f"No short-covering day in {len(week)} day(s)"
    )
    assert expected in answer.answer.text
    assert "Dead bands 0.5% price, 1% OI" in answer.answer.text


async def test_etf_buyers_behind_this_rally_says_btc_was_assumed():
    answer = await _ask("are ETF buyers behind this rally?")
    assert answer.answer.trade_usd is not None
    assert "BTC assumed" in answer.answer.text and "up day(s)" in answer.answer.text
