"""The status/alert chart plots the number in the headline: the total trade, by program."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bot.render.charts import (
    fund_trade_paths,
    headline_chart,
    headline_programs,
    weight_panel_fund,
)
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from flows.status import AnalyticsConfig, build_status

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("asset", ["SPY", "BTC"])
async def test_chart_total_on_as_of_is_the_headline_trade(asset, tmp_path):
    registry = load_registry()
    market = MarketData(SampleSource())
    as_of = dt.date(2025, 6, 20)
    report = await build_status(asset, market, registry, as_of, AnalyticsConfig(with_garch=False))
    funds, aum_used = headline_programs(report, registry.holding(asset))
    assert funds
    symbols = set().union(*(fund.weights for fund in funds))
    frames = await market.bars_many(symbols, as_of - dt.timedelta(days=460), as_of)
    closes = {symbol: frame["adj_close"] for symbol, frame in frames.items()}

    days = pd.date_range(dt.date(2025, 4, 1), as_of, freq="D")
    paths = fund_trade_paths(asset, funds, closes, days, aum_used)
    # Stacked by program: one column per program the headline counts, and their sum on as-of
    # is the headline.
    assert list(paths.columns) == [fund.name for fund in funds]
    assert paths.iloc[-1].sum() == pytest.approx(report.rebalance.trade_usd, rel=1e-9)
    for drift in (row for row in report.rebalance.funds if row.trades_this_period):
        assert paths[drift.name].iloc[-1] == pytest.approx(drift.trade_usd, rel=1e-9)

    path = headline_chart(report, funds, closes, tmp_path / f"status-{asset}.png")
    assert path.read_bytes()[:8] == PNG


def test_the_weight_panel_shows_a_real_fund_before_a_scenario_program():
    """BTC's largest holder by AUM is a scenario program (adviser guidance); the panel draws
    the largest real fund instead, and a scenario only when there is nothing else."""

    def aum(fund) -> float:
        return fund.aum_usd or 0.0

    holders = load_registry().holding("BTC")
    scenarios = [fund for fund in holders if fund.scenario and len(fund.weights) > 1]
    real = [fund for fund in holders if not fund.scenario and len(fund.weights) > 1]
    assert scenarios and real
    largest_scenario, largest_real = max(scenarios, key=aum), max(real, key=aum)
    assert aum(largest_scenario) > aum(largest_real)
    assert weight_panel_fund(holders) == largest_real and not largest_real.scenario
    assert weight_panel_fund(scenarios) == largest_scenario
    assert weight_panel_fund([]) is None
