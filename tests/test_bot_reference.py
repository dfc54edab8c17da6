"""The bot with live reference data: the leveraged-ETF monitor and `/flows status` size funds
from live AUM (cached for the day), `/flows calendar` and the calendar digest count the buyback
blackout from earnings dates. The "live" source here serves the synthetic sample bars and
recorded reference answers, so nothing reaches the network."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import pandas as pd

from bot.app import BotApp
from bot.monitors.flow_events import calendar_events
from bot.render.numbers import trade
from flows.buybacks import KnownReports
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import sample_bars
from flows.models.leveraged import estimate_letf, with_aum
from flows.sp500 import largest_sp500_companies
from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_settings

TODAY = dt.date(2026, 11, 20)
LIVE_AUM = {"TQQQ": 3.0e10, "SQQQ": 3.0e9, "QLD": 9.0e9}
TICKERS = largest_sp500_companies().tickers


def report_day(position: int) -> dt.date:
    return dt.date(2026, 10, 10) + dt.timedelta(days=position // 4)


class LiveLike:
    """Sample bars behind the live source's name, with recorded reference answers."""

    name = "live"
    is_sample = False
    description = "live (test stand-in)"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def fetch(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        return sample_bars(symbol, TODAY).loc[pd.Timestamp(start) : pd.Timestamp(end)]

    async def fund_aum(self, ticker: str) -> float | None:
        self.calls.append(ticker)
        return LIVE_AUM.get(ticker)

    async def earnings_dates(self, ticker: str) -> list[dt.date]:
        self.calls.append(ticker)
        return [report_day(TICKERS.index(ticker))]

    async def close(self) -> None:
        return None


def live_app(settings, store, adapter, source: LiveLike, now: dt.datetime) -> BotApp:
    return BotApp(
        settings,
        store,
        load_registry(),
        [adapter],
        make_market=lambda: MarketData(source),
        clock=lambda: now,
    )


@contextlib.asynccontextmanager
async def running_app(
    tmp_path, now: dt.datetime, **settings_overrides
) -> AsyncIterator[tuple[BotApp, RecordingAdapter, LiveLike]]:
    """A started bot on the live stand-in, its console-like adapter and the source."""
    settings = sample_settings(tmp_path, data_source="live", **settings_overrides)
    store = await Store.open(settings.database_url)
    source = LiveLike()
    adapter = RecordingAdapter(RecordingPlatform())
    app = live_app(settings, store, adapter, source, now)
    await app.start_adapters()
    try:
        yield app, adapter, source
    finally:
        await store.close()


def _big_move_session() -> dt.date:
    closes = sample_bars("QQQ", TODAY)["close"].loc["2026-01-01":]
    return closes.pct_change().dropna().abs().idxmax().date()


async def test_letf_monitor_sizes_funds_from_live_aum_fetched_once_a_day(tmp_path) -> None:
    big = _big_move_session()
    now = dt.datetime(2026, 11, 20, 20, 0, tzinfo=dt.UTC)
    async with running_app(tmp_path, now, letf_threshold_usd=1.0e8) as (app, adapter, source):
        await adapter.command("watch QQQ letf")
        result = await app.letf_tick(big)
        [event] = result.alerts
        closes = sample_bars("QQQ", TODAY)["close"]
        move = closes.loc[pd.Timestamp(big)] / closes.loc[: pd.Timestamp(big)].iloc[-2] - 1
        live_sensitivity = 3.0e10 * 6 + 3.0e9 * 12 + 9.0e9 * 2
        assert abs(event.trade_usd - live_sensitivity * move) < 1.0
        assert "Yahoo Finance totalAssets, fetched 2026-11-20" in event.message.footer
        assert {"TQQQ", "SQQQ", "QLD"} <= set(source.calls)

        source.calls.clear()
        await app.letf_tick(big)  # the same day: fetched AUM from the cache
        assert source.calls and not {"TQQQ", "SQQQ", "QLD"} & set(source.calls)


async def test_status_command_uses_live_aum_for_the_leveraged_part(tmp_path) -> None:
    now = dt.datetime(2026, 11, 20, 20, tzinfo=dt.UTC)
    async with running_app(tmp_path, now) as (_, adapter, _):
        message = await adapter.command("status QQQ")
        field = next(f for f in message.fields if f.label == "Leveraged ETFs at the close")
        closes = sample_bars("QQQ", TODAY)["close"]
        move = float(closes.iloc[-1] / closes.iloc[-2] - 1)
        figures = {t: (aum, "Yahoo", TODAY) for t, aum in LIVE_AUM.items()}
        expected = estimate_letf("QQQ", move, with_aum(load_registry(), figures), None)
        assert field.value.startswith(trade(expected.trade_usd, expected.direction))


async def test_calendar_command_counts_the_blackout_from_earnings_dates(tmp_path) -> None:
    now = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)
    async with running_app(tmp_path, now) as (_, adapter, source):
        message = await adapter.command("calendar 30")
        assert "est. 64% of 100 large S&P 500 companies" in message.body
        assert "earnings dates)" in message.body
        assert sorted(source.calls) == sorted(TICKERS)
        source.calls.clear()
        await adapter.command("calendar 30")
        assert source.calls == []  # cached for a week


def test_calendar_digest_takes_blackout_milestones_from_earnings_dates() -> None:
    known = KnownReports(
        dates={ticker: (report_day(i),) for i, ticker in enumerate(TICKERS)},
        companies=len(TICKERS),
        universe="the 100 largest S&P 500 companies (test)",
        source="Yahoo Finance earnings calendar, fetched 2026-10-12",
    )
    monday = dt.date(2026, 10, 26)
    # Half of the 100 are out once those reporting by Oct 22 are two days past (Sat Oct 24):
    # the milestone is on Monday Oct 26. The rule of thumb puts it on Nov 2, a week later.
    [digest] = [a for a in calendar_events("SPY", monday, known) if "digest" in a.key]
    assert "buyback_blackout" in digest.message.body and "est. 40% still in" in digest.message.body
    [rule_digest] = [a for a in calendar_events("SPY", monday) if "digest" in a.key]
    assert "buyback_blackout" not in rule_digest.message.body
    heads_up = {a.key for a in calendar_events("SPY", dt.date(2026, 10, 23), known)}
    assert "calendar:buyback_blackout:2026-10-26:SPY" in heads_up
    rule_heads_up = {a.key for a in calendar_events("SPY", dt.date(2026, 10, 23))}
    assert "calendar:buyback_blackout:2026-10-26:SPY" not in rule_heads_up


async def test_tick_digest_counts_the_blackout_from_earnings_dates(tmp_path) -> None:
    now = dt.datetime(2026, 10, 26, 12, tzinfo=dt.UTC)
    async with running_app(tmp_path, now) as (app, adapter, _):
        await adapter.command("watch SPY calendar")
        result = await app.tick(dt.date(2026, 10, 26))
        [digest] = [event for event in result.alerts if "digest" in event.key]
        assert "est. 40% still in" in digest.message.body
