"""The `positioning` and `etf_flows` monitors: what fires (thresholds, a sign reversal), once
per dedupe key, through the outbox to the subscribed channel with the chart."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bot.monitors.positioning import positioning_events
from flows.models.positioning import positioning_from_frames
from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings


def report(closes, oi, flows_by_day):
    index = pd.DatetimeIndex(pd.date_range("2024-12-02", periods=len(closes)), name="date")
    bars = pd.DataFrame({"close": closes}, index=index)
    derivs = pd.DataFrame(
        {"open_interest_usd": oi, "funding_rate": 0.0, "long_short_ratio": float("nan")},
        index=index,
    )
    flows = pd.DataFrame(
        [(index[i], "IBIT", "BTC", v) for i, v in flows_by_day.items()],
        columns=["date", "fund", "asset", "flow_usd"],
    )
    return positioning_from_frames(
        "BTC", bars, derivs, flows, None, index[-1].date(), len(closes) - 1,
        source_label="constructed", sample=False, fund_methods={}, flows_confidence="measured",
    )  # fmt: skip


THRESHOLDS = {
    "forced_threshold_usd": 2e8,
    "day_threshold_usd": 5e8,
    "five_day_threshold_usd": 1e9,
}


def test_short_covering_above_the_threshold_fires_once_keyed_by_day():
    covering = report([100, 103], [10e9, 9.7e9], {1: 1e8})
    events, state = positioning_events(covering, None, **THRESHOLDS)
    assert [e.key for e in events] == ["positioning:BTC:2024-12-03:short_covering"]
    assert events[0].trade_usd == 3e8 and events[0].direction == "buy"
    assert state == {"sign": 1, "date": "2024-12-03"}
    small = report([100, 103], [10e9, 9.85e9], {1: 1e8})  # a $150m buy-back: below
    assert positioning_events(small, None, **THRESHOLDS)[0] == []
    longs = report([100, 103], [10e9, 10.5e9], {})  # new longs never fire
    assert positioning_events(longs, None, **THRESHOLDS)[0] == []


def test_etf_flow_day_five_sessions_and_reversal():
    inflows = report([100, 100.1, 100.2], [10e9, 10e9, 10e9], {1: 6e8, 2: 6e8})
    events, state = positioning_events(inflows, {"sign": -1}, **THRESHOLDS)
    keys = [e.key for e in events]
    assert keys == [
        "etf_flows:BTC:2024-12-04:day",
        "etf_flows:BTC:2024-12-04:5d",
        "etf_flows:BTC:2024-12-04:reversal",
    ]
    assert state["sign"] == 1
    # Same sign as before: no reversal; unknown flows change nothing.
    again, _ = positioning_events(inflows, state, **THRESHOLDS)
    assert not any(e.key.endswith("reversal") for e in again)
    unknown = report([100, 100.1], [10e9, 10e9], {})
    assert positioning_events(unknown, state, **THRESHOLDS) == ([], state)


async def test_subscribed_channel_gets_positioning_alerts_through_the_outbox(tmp_path) -> None:
    settings = sample_settings(
        tmp_path,
        positioning_threshold_usd=1.0,
        etf_flow_threshold_usd=1.0,
        etf_flow_5d_threshold_usd=1.0,
    )
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform)
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        reply = await adapter.command("watch BTC positioning etf_flows")
        assert reply.title == "Watching BTC"
        # 2026-11-12 is an NYSE session: the sample has ETF flows for it.
        day = dt.date(2026, 11, 12)
        result = await app.tick(day)
        kinds = {event.kind for event in result.alerts}
        assert kinds <= {"positioning", "etf_flows"} and "etf_flows" in kinds
        assert all(event.sample for event in result.alerts)
        await app.dispatcher.drain()
        assert len(platform.posts) == len(result.alerts)
        charts = sorted(settings.chart_dir.glob("positioning-BTC-*.png"))
        assert charts and all(event.message.chart_path for event in result.alerts)
        drawn = [path.stat().st_mtime_ns for path in charts]
        again = await app.tick(day)
        assert again.new_alerts == 0  # dedupe keys: nothing twice
        # ... and no chart drawn again for alerts already stored.
        assert [path.stat().st_mtime_ns for path in charts] == drawn
    finally:
        await store.close()
