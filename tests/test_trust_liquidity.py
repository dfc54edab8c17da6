"""Liquidity yardsticks per asset class, and the `adv_basis` every percentage names."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from flows import calendar
from flows.assets import get_asset
from flows.liquidity import (
    ES_MULTIPLIER,
    liquidity_key,
    traded_value_series,
    yardstick,
)
from flows.marketdata import MarketData
from flows.marketdata.csvdir import CsvDirectorySource
from flows.marketdata.liquidity import fetch_liquidity, spot_traded_value
from flows.marketdata.sample import SampleSource

START, END = dt.date(2024, 1, 2), dt.date(2024, 3, 28)


def _bars(symbol: str, price: float, volume: float) -> pd.DataFrame:
    if symbol in ("BTC", "ETH"):
        days = pd.date_range(START, END, freq="D")
    else:
        days = pd.DatetimeIndex(calendar.sessions_between(START, END))
    closes = price * np.exp(np.linspace(0.0, 0.05, len(days)))
    frame = pd.DataFrame(
        {"open": closes, "high": closes, "low": closes, "close": closes, "volume": volume},
        index=days.rename("date"),
    )
    frame["adj_close"] = closes
    return frame


@pytest.fixture
def market_dir(tmp_path):
    for symbol, price, volume in (("SPY", 500.0, 6e7), ("AGG", 100.0, 8e6), ("BTC", 6e4, 2e4)):
        _bars(symbol, price, volume).to_csv(tmp_path / f"{symbol}.csv", index_label="date")
    return tmp_path


async def test_sp500_yardstick_is_es_futures_notional_plus_spy(market_dir):
    futures = _bars("SPY", 5000.0, 1.5e6)  # E-mini: index points, contracts
    futures.to_csv(market_dir / "ES=F.csv", index_label="date")
    market = MarketData(CsvDirectorySource(market_dir))
    spy = await market.bars("SPY", START, END)
    frames = {"SPY": spy} | await fetch_liquidity(market, get_asset("SPY"), START, END)
    stick = yardstick(get_asset("SPY"), END, spy, frames, 20)
    expected = futures["close"] * futures["volume"] * ES_MULTIPLIER + spy["close"] * spy["volume"]
    assert stick.adv_usd == pytest.approx(float(expected.tail(20).mean()))
    assert "E-mini ES=F volume x price x $50 + SPY dollar volume" in stick.basis
    # An order of magnitude above SPY alone, as the S&P 500's traded value is.
    assert stick.adv_usd > 10 * float((spy["close"] * spy["volume"]).tail(20).mean())


async def test_without_a_yardstick_series_the_share_is_unknown_with_the_reason(market_dir):
    market = MarketData(CsvDirectorySource(market_dir))
    for symbol, words in (("SPY", "ES=F"), ("BTC", "spot volume"), ("AGG", "bond-market")):
        asset = get_asset(symbol)
        bars = await market.bars(symbol, START, END)
        frames = await fetch_liquidity(market, asset, START, END)
        stick = yardstick(asset, END, bars, frames, 20)
        assert stick.adv_usd is None
        assert words in stick.basis and f"liquidity/{symbol}.csv" in stick.basis


async def test_a_csv_directory_supplies_the_yardstick_as_a_documented_file(market_dir):
    (market_dir / "liquidity").mkdir()
    days = pd.date_range(START, END, freq="D")
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "traded_value_usd": 2.5e9}).to_csv(
        market_dir / "liquidity" / "BTC.csv", index=False
    )
    market = MarketData(CsvDirectorySource(market_dir))
    btc = await market.bars("BTC", START, END)
    frames = await fetch_liquidity(market, get_asset("BTC"), START, END)
    stick = yardstick(get_asset("BTC"), END, btc, frames, 20)
    assert stick.adv_usd == pytest.approx(2.5e9)
    assert "liquidity/BTC.csv" in stick.basis


async def test_status_json_names_the_yardstick_of_every_percentage(market_dir):
    from flows.funds import load_registry
    from flows.status import AnalyticsConfig, build_status

    market = MarketData(SampleSource())
    report = await build_status(
        "SPY", market, load_registry(), dt.date(2025, 6, 20), AnalyticsConfig(with_garch=False)
    )
    rebalance = report.to_json_dict()["rebalance"]
    assert rebalance["pct_adv"] is not None
    assert "S&P 500 traded value" in rebalance["adv_basis"]
    assert "SAMPLE DATA" in rebalance["adv_basis"]
    assert report.leveraged is not None and report.leveraged.adv_basis == rebalance["adv_basis"]


class _FakeExchange:
    """A ccxt-shaped exchange answering fetch_ohlcv with fixed daily candles."""

    def __init__(self, volume: float | None) -> None:
        self.volume = volume
        self.closed = False

    async def fetch_ohlcv(self, market, timeframe, since=None, limit=None):
        assert timeframe == "1d" and market.startswith("BTC/")
        if self.volume is None:
            raise OSError("exchange down")
        day = dt.datetime.fromtimestamp(since / 1000, dt.UTC)
        return [
            [int((day + dt.timedelta(days=i)).timestamp() * 1000), 1, 1, 1, 60_000.0, self.volume]
            for i in range(30)
        ]

    async def close(self) -> None:
        self.closed = True


async def test_crypto_yardstick_sums_spot_volume_over_the_exchanges_that_answered():
    volumes = {"coinbase": 1000.0, "kraken": 500.0, "bitstamp": None}
    made: dict[str, _FakeExchange] = {}

    def factory(exchange_id: str) -> _FakeExchange:
        made[exchange_id] = _FakeExchange(volumes[exchange_id])
        return made[exchange_id]

    end = dt.date(2025, 3, 31)
    series = await spot_traded_value(
        "BTC", end - dt.timedelta(days=25), end, list(volumes), factory
    )
    assert series["traded_value_usd"].iloc[-1] == pytest.approx(60_000.0 * 1500.0)
    assert "coinbase, kraken" in series.attrs["basis"]
    assert "left out: bitstamp" in series.attrs["basis"]
    assert all(exchange.closed for exchange in made.values())
    stick = yardstick(get_asset("BTC"), end, pd.DataFrame(), {liquidity_key("BTC"): series}, 20)
    assert stick.adv_usd == pytest.approx(60_000.0 * 1500.0)


def test_a_yardstick_that_stopped_long_before_as_of_is_not_used():
    days = pd.date_range(START, END, freq="D")
    series = traded_value_series(pd.Series(1e9, index=days), "test series")
    later = END + dt.timedelta(days=30)
    stick = yardstick(get_asset("BTC"), later, pd.DataFrame(), {liquidity_key("BTC"): series})
    assert stick.adv_usd is None
