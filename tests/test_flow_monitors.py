"""Leveraged-ETF close alerts and flow-calendar digests through the real tick and outbox."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bot.monitors.flow_events import calendar_events, relevant_kinds
from bot.monitors.tick import run_letf_tick
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource, sample_bars
from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

TODAY = dt.date(2026, 11, 20)


def _big_and_small_move_sessions() -> tuple[dt.date, dt.date]:
    closes = sample_bars("QQQ", TODAY)["close"].loc["2026-01-01":]
    moves = closes.pct_change().dropna()
    return moves.abs().idxmax().date(), moves.abs().idxmin().date()


async def test_letf_alert_fires_on_a_big_move_day_only(tmp_path) -> None:
    settings = sample_settings(tmp_path, letf_threshold_usd=2.0e9)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform)
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    big, small = _big_and_small_move_sessions()
    try:
        await adapter.command("watch QQQ letf")
        registry = load_registry()
        quiet = await run_letf_tick(
            store, MarketData(SampleSource(TODAY)), registry, settings, small
        )
        assert quiet.assets == 1 and quiet.new_alerts == 0
        loud = await run_letf_tick(store, MarketData(SampleSource(TODAY)), registry, settings, big)
        assert loud.new_alerts == 1
        [event] = loud.alerts
        closes = sample_bars("QQQ", TODAY)["close"]
        move = closes.loc[pd.Timestamp(big)] / closes.loc[: pd.Timestamp(big)].iloc[-2] - 1
        sensitivity = sum(
            f.aum_usd * f.leverage * (f.leverage - 1) for f in registry.leveraged_on("QQQ")
        )
        assert abs(event.trade_usd - sensitivity * move) < 1.0
        assert event.key == f"letf:QQQ:{big}"
        await app.dispatcher.drain()
        [(_, message, _)] = platform.posts
        assert "into the close" in message.summary and message.sample
        again = await run_letf_tick(store, MarketData(SampleSource(TODAY)), registry, settings, big)
        assert again.new_alerts == 0
    finally:
        await store.close()


async def test_crypto_letf_alert_on_a_monday_measures_from_fridays_close(tmp_path) -> None:
    settings = sample_settings(tmp_path, letf_threshold_usd=1.0)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    monday, friday = dt.date(2026, 11, 16), dt.date(2026, 11, 13)
    try:
        await adapter.command("watch BTC letf")
        registry = load_registry()
        market = MarketData(SampleSource(TODAY))
        [event] = (await run_letf_tick(store, market, registry, settings, monday)).alerts
        closes = sample_bars("BTC", TODAY)["close"]
        move = closes.loc[pd.Timestamp(monday)] / closes.loc[pd.Timestamp(friday)] - 1
        sensitivity = sum(
            f.aum_usd * f.leverage * (f.leverage - 1) for f in registry.leveraged_on("BTC")
        )
        assert abs(event.trade_usd - sensitivity * move) < 1.0
    finally:
        await store.close()


def test_calendar_digest_on_mondays_and_heads_up_the_session_before() -> None:
    monday = dt.date(2026, 12, 14)
    digest = calendar_events("SPY", monday)
    assert digest[0].key == "calendar:digest:SPY:2026-W51"
    assert "opex" in digest[0].message.body and "quad_witching" in digest[0].message.body
    # Thu 2026-12-17 is the session before the December quad witching on Fri 2026-12-18.
    heads_up = {event.key for event in calendar_events("SPY", dt.date(2026, 12, 17))}
    assert "calendar:quad_witching:2026-12-18:SPY" in heads_up
    assert "calendar:opex:2026-12-18:SPY" in heads_up
    # Crypto cares about the Deribit expiry, not equity option expiries.
    crypto = {event.key for event in calendar_events("BTC", dt.date(2026, 12, 24))}
    assert crypto == {"calendar:deribit_expiry:2026-12-25:BTC"}
    assert "deribit_expiry" in relevant_kinds("ETH") and "opex" not in relevant_kinds("ETH")


async def test_calendar_subscription_receives_heads_up_through_the_outbox(tmp_path) -> None:
    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform)
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        await adapter.command("watch SPY calendar")
        result = await app.tick(dt.date(2026, 9, 17))
        keys = {event.key for event in result.alerts}
        assert "calendar:quad_witching:2026-09-18:SPY" in keys
        assert all(event.kind == "calendar" for event in result.alerts)
        await app.dispatcher.drain()
        assert len(platform.posts) == len(keys)
    finally:
        await store.close()
