"""The live track record: a sized alert's call is stored when the tick records it, and the
outcome is filled in by the daily job only after the window has ended (pinned clock)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.app import BotApp
from bot.cli import main
from bot.messages import Message
from bot.monitors.tick import run_tick
from bot.settings import Settings
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.csvdir import CsvDirectorySource
from storage.store import Store
from tests.test_track import FUNDS_TOML, close_of, write_market

D = dt.date
CALL_DAY = D(2024, 3, 22)  # 4 sessions left to the Q1 2024 quarter end (2024-03-28)
WINDOW = (D(2024, 3, 22), D(2024, 3, 28))


@pytest.fixture
def setup(tmp_path):
    market_dir = write_market(tmp_path / "market")
    funds = tmp_path / "funds.toml"
    funds.write_text(FUNDS_TOML, encoding="utf-8")
    settings = Settings(
        _env_file=None,
        data_source=str(market_dir),
        funds_file=funds,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        chart_dir=tmp_path / "charts",
        track_since=D(2023, 1, 1),
    )
    return settings, market_dir


def _market(market_dir) -> MarketData:
    return MarketData(CsvDirectorySource(market_dir))


async def test_live_record_fills_in_after_the_window(setup):
    settings, market_dir = setup
    registry = load_registry(settings.funds_file)
    store = await Store.open(settings.database_url)
    try:
        await store.add_subscription(
            platform="console", channel="main", asset="BTC", kinds=("quarter_end",)
        )
        market = _market(market_dir)
        try:
            tick = await run_tick(store, market, registry, settings, CALL_DAY, charts=False)
        finally:
            await market.close()
        assert [event.key for event in tick.alerts] == ["quarter_end:BTC:2024Q1:4"]
        event = tick.alerts[0]
        (record,) = await store.live_records("BTC")
        assert (record.window_start, record.window_end) == WINDOW
        assert record.estimate_as_of == CALL_DAY
        assert record.estimated_trade_usd == event.trade_usd
        assert record.direction == event.direction
        assert record.benchmark == "SPY"
        assert record.outcome_filled_at is None and record.actual_flow_usd is None

        # The alert ends with one line of the history record, as known on the call day.
        stored = await _stored_message(store, event.key)
        assert stored.fields[-1].label == "Track record"
        assert stored.fields[-1].value.startswith("record for BTC since 2023: ")

        clock = {"now": dt.datetime(2024, 3, 28, 23, 0, tzinfo=dt.UTC)}
        app = BotApp(
            settings,
            store,
            registry,
            [],
            make_market=lambda: _market(market_dir),
            clock=lambda: clock["now"],
        )
        # On the window's last day its close is not final: nothing is filled.
        assert await app.fill_track_record() == 0
        (record,) = await store.live_records("BTC")
        assert record.outcome_filled_at is None and record.outcome_return is None

        clock["now"] = dt.datetime(2024, 3, 29, 1, 30, tzinfo=dt.UTC)
        assert await app.fill_track_record() == 1
        (record,) = await store.live_records("BTC")
        btc = close_of(market_dir, "BTC", WINDOW[1]) / close_of(market_dir, "BTC", CALL_DAY) - 1
        spy = close_of(market_dir, "SPY", WINDOW[1]) / close_of(market_dir, "SPY", CALL_DAY) - 1
        assert record.outcome_return == pytest.approx(btc)
        assert record.outcome_excess == pytest.approx(btc - spy)
        expected_hit = (
            None
            if record.direction == "neutral"
            else ((btc - spy) < 0 if record.direction == "sell" else (btc - spy) > 0)
        )
        assert record.hit is expected_hit
        assert record.outcome_filled_at == clock["now"]
        # The estimate is what was said at the time, untouched.
        assert record.estimated_trade_usd == event.trade_usd
        assert record.actual_flow_usd is None

        # A second run changes nothing: an outcome is written once.
        clock["now"] = dt.datetime(2024, 4, 30, 1, 30, tzinfo=dt.UTC)
        assert await app.fill_track_record() == 0
        assert (
            await store.fill_live_outcome(
                record.id, outcome_return=9.9, outcome_excess=9.9, hit=True
            )
            is False
        )
        (again,) = await store.live_records("BTC")
        assert again.outcome_return == record.outcome_return
    finally:
        await store.close()


async def _stored_message(store, key: str) -> Message:
    from sqlmodel import select

    from storage.models import Alert

    async with store._sessions() as session:
        alert = (await session.exec(select(Alert).where(Alert.dedupe_key == key))).one()
    return Message.from_storage(alert.content)


async def test_existing_alerts_are_not_recorded_again_and_unsized_ones_not_at_all(setup):
    settings, market_dir = setup
    registry = load_registry(settings.funds_file)
    store = await Store.open(settings.database_url)
    try:
        await store.add_subscription(
            platform="console", channel="main", asset="BTC", kinds=("quarter_end", "vol")
        )
        for day in (CALL_DAY, CALL_DAY):  # the same day twice: the alert exists the 2nd time
            market = _market(market_dir)
            try:
                await run_tick(store, market, registry, settings, day, charts=False)
            finally:
                await market.close()
        records = await store.live_records("BTC")
        assert [r.dedupe_key for r in records] == ["quarter_end:BTC:2024Q1:4"]
    finally:
        await store.close()


async def test_called_on_the_last_session_is_filled_as_unmeasurable(setup):
    from storage.live_records import NewLiveRecord

    settings, market_dir = setup
    store = await Store.open(settings.database_url)
    try:
        await store.add_live_records(
            [
                NewLiveRecord(
                    dedupe_key="quarter_end:BTC:2024Q1:0",
                    alert_kind="quarter_end",
                    asset="BTC",
                    estimate_as_of=WINDOW[1],
                    window_start=WINDOW[0],
                    window_end=WINDOW[1],
                    estimated_trade_usd=-1e8,
                    direction="sell",
                    benchmark="SPY",
                )
            ]
        )
        app = BotApp(
            settings,
            store,
            load_registry(settings.funds_file),
            [],
            make_market=lambda: _market(market_dir),
            clock=lambda: dt.datetime(2024, 4, 2, tzinfo=dt.UTC),
        )
        assert await app.fill_track_record() == 1
        (record,) = await store.live_records("BTC")
        assert record.hit is None and record.outcome_return is None
        assert "no later close" in record.outcome_note
    finally:
        await store.close()


async def test_cli_live_json(setup, capsys, monkeypatch):
    settings, market_dir = setup
    registry = load_registry(settings.funds_file)
    store = await Store.open(settings.database_url)
    try:
        await store.add_subscription(
            platform="console", channel="main", asset="BTC", kinds=("quarter_end",)
        )
        market = _market(market_dir)
        try:
            await run_tick(store, market, registry, settings, CALL_DAY, charts=False)
        finally:
            await market.close()
    finally:
        await store.close()
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    from bot.settings import get_settings

    get_settings.cache_clear()
    try:
        code = await _run_cli(
            ["track", "BTC", "--live", "--funds", str(settings.funds_file), "--json"]
        )
    finally:
        get_settings.cache_clear()
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    (window,) = payload["windows"]
    assert window["actual_flow_usd"] is None
    assert window["estimate_as_of"] == CALL_DAY.isoformat()
    assert window["hit"] is None  # not filled yet
    assert payload["live"] is True and payload["summary"]["n"] == 0


async def _run_cli(argv):
    import asyncio

    return await asyncio.to_thread(main, argv)


async def test_the_alert_record_line_uses_only_what_was_known_and_is_cached(setup):
    from bot.monitors import track_line
    from flows.assets import get_asset
    from flows.status import AnalyticsConfig
    from flows.track import build_track, record_line

    settings, market_dir = setup
    registry = load_registry(settings.funds_file)
    config = AnalyticsConfig(with_garch=False)
    track_line._CACHE.clear()
    market = _market(market_dir)
    try:
        line = await track_line.quarter_end_record_line(
            get_asset("BTC"), CALL_DAY, market, registry, D(2023, 1, 1), config
        )
        fetches = market.fetch_count
        again = await track_line.quarter_end_record_line(
            get_asset("BTC"), CALL_DAY, market, registry, D(2023, 1, 1), config
        )
        assert again == line and market.fetch_count == fetches  # cached: nothing refetched
        # On 2024-03-22 the windows that had ended are those of 2023; the data reaching
        # December 2024 adds nothing to the line.
        known = await build_track(
            "BTC", market, registry, D(2023, 1, 1), D(2023, 12, 31), config=config
        )
    finally:
        await market.close()
    assert line == record_line(known, D(2023, 1, 1))
    assert line.startswith("record for BTC since 2023: ")


async def test_record_lines_warmed_after_a_tick_serve_the_quarters_countdown_days(setup):
    """The line changes only when a quarter completes: warmed once (as the bot does after a
    daily tick), a later day of the same quarter computes nothing; the next quarter does."""
    from bot.monitors import track_line
    from flows.assets import get_asset
    from flows.status import AnalyticsConfig

    settings, market_dir = setup
    registry = load_registry(settings.funds_file)
    config = AnalyticsConfig(with_garch=False)
    track_line._CACHE.clear()
    market = _market(market_dir)
    try:
        await track_line.warm_record_lines(
            [get_asset("BTC")], D(2024, 2, 20), market, registry, D(2023, 1, 1), config
        )
        fetches = market.fetch_count
        line = await track_line.quarter_end_record_line(
            get_asset("BTC"), CALL_DAY, market, registry, D(2023, 1, 1), config
        )
        assert market.fetch_count == fetches  # same completed quarter (2023Q4): cached
        later = await track_line.quarter_end_record_line(
            get_asset("BTC"), D(2024, 6, 20), market, registry, D(2023, 1, 1), config
        )
        assert market.fetch_count > fetches  # 2024Q1 completed since: computed again
        assert line.startswith("record for BTC since 2023: ")
        assert later.startswith("record for BTC since 2023: ")
    finally:
        await market.close()


async def test_the_bot_warms_the_lines_once_per_completed_quarter_and_watch_list(tmp_path):
    """With interval ticks the warm-up would redo the same work every few minutes: the app
    opens a market for it only when the last completed quarter or the watched assets change."""
    from flows.marketdata import MarketData
    from flows.marketdata.sample import SampleSource
    from storage.store import Store
    from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    opened: list[int] = []

    def make_market():
        opened.append(1)
        return MarketData(SampleSource())

    app = sample_app(settings, store, [RecordingAdapter(RecordingPlatform())])
    app.make_market = make_market
    try:
        await store.add_subscription(
            platform="console", channel="c", asset="BTC", kinds="quarter_end"
        )
        await app._warm_record_lines(D(2026, 11, 10))
        await app._warm_record_lines(D(2026, 11, 20))  # same completed quarter, same assets
        assert len(opened) == 1
        await store.add_subscription(
            platform="console", channel="c", asset="ETH", kinds="quarter_end"
        )
        await app._warm_record_lines(D(2026, 11, 20))  # a new asset
        await app._warm_record_lines(D(2027, 1, 5))  # 2026Q4 completed
        assert len(opened) == 3
    finally:
        await store.close()
