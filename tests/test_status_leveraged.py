"""`status` includes the leveraged-ETF close rebalance for the last bar's move."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource, sample_bars
from flows.status import build_status

TODAY = dt.date(2026, 11, 20)


async def test_status_of_an_underlying_carries_the_leveraged_rebalance() -> None:
    registry = load_registry()
    as_of = dt.date(2026, 10, 15)
    report = await build_status("QQQ", MarketData(SampleSource(TODAY)), registry, as_of)
    closes = sample_bars("QQQ", TODAY)["close"].loc[: pd.Timestamp(as_of)]
    move = closes.iloc[-1] / closes.iloc[-2] - 1
    sensitivity = sum(
        f.aum_usd * f.leverage * (f.leverage - 1) for f in registry.leveraged_on("QQQ")
    )
    assert report.leveraged is not None
    assert abs(report.leveraged.move - move) < 1e-12
    assert abs(report.leveraged.trade_usd - sensitivity * move) < 1.0
    assert report.leveraged.direction == ("buy" if move > 0 else "sell")
    assert report.to_json_dict()["leveraged"]["funds"][0]["name"]


async def test_status_of_an_asset_without_leveraged_funds_has_none() -> None:
    report = await build_status("AGG", MarketData(SampleSource(TODAY)), load_registry())
    assert report.leveraged is None
    assert report.to_json_dict()["leveraged"] is None
