"""Rebalancing drift and the trade that restores the targets.

Worked example (issue 2): a 60/38/2 fund with returns +5 %, +1 %, +50 % drifts to
60.356 / 36.770 / 2.874 %; the trades are -0.356 %, +1.231 %, -0.874 % of current AUM.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows import calendar
from flows.errors import InputError
from flows.funds import RebalancingFund
from flows.rebalance import (
    WHAT_IF_MOVES,
    aggregate_trade_path,
    average_dollar_volume,
    direction_of,
    drifted_weights,
    estimate_rebalance,
    price_on_or_before,
    rebalance_trades,
)

D = dt.date
TARGETS = np.array([0.60, 0.38, 0.02])
GROWTH = np.array([1.05, 1.01, 1.50])
AUM = 5.0e9


def _fund(weights: dict[str, float], rebalance: str = "quarterly", aum: float = AUM, name="F"):
    return RebalancingFund(
        name=name, aum_usd=aum, rebalance=rebalance, aum_source="test", weights=weights
    )


MODEL = _fund({"SPY": 0.60, "AGG": 0.38, "BTC": 0.02}, name="Model 60/38/2")


def _closes(levels: dict[str, dict[dt.date, float]]) -> dict[str, pd.Series]:
    """Close series from {symbol: {day: price}}; a day is held until the next one."""
    return {
        symbol: pd.Series(
            list(points.values()), index=pd.DatetimeIndex(list(points.keys()), name="date")
        ).sort_index()
        for symbol, points in levels.items()
    }


def _worked_example_closes() -> dict[str, pd.Series]:
    base, as_of = D(2023, 12, 29), D(2024, 3, 25)
    return _closes(
        {
            "SPY": {D(2023, 12, 28): 470.0, base: 475.0, D(2024, 2, 29): 500.0, as_of: 475 * 1.05},
            "AGG": {D(2023, 12, 28): 97.0, base: 98.0, D(2024, 2, 29): 97.5, as_of: 98.0 * 1.01},
            "BTC": {base: 42000.0, D(2024, 2, 29): 61000.0, as_of: 63000.0},
        }
    )


# --- the worked example --------------------------------------------------------------------------


def test_worked_example_drifted_weights_and_trades():
    # The issue quotes three decimals; 36.770 is 36.7695 rounded half up, hence 6e-4.
    current = drifted_weights(TARGETS, GROWTH)
    assert current * 100 == pytest.approx([60.356, 36.770, 2.874], abs=6e-4)
    assert current == pytest.approx([0.63 / 1.0438, 0.3838 / 1.0438, 0.03 / 1.0438], rel=1e-12)
    trades = rebalance_trades(TARGETS, GROWTH, 1.0)
    assert trades * 100 == pytest.approx([-0.356, 1.231, -0.874], abs=6e-4)
    assert trades.sum() == pytest.approx(0.0, abs=1e-15)


def test_worked_example_through_estimate_rebalance():
    closes = _worked_example_closes()
    trades = {}
    for symbol in ("SPY", "AGG", "BTC"):
        estimate = estimate_rebalance(symbol, D(2024, 3, 25), [MODEL], closes, adv_usd=None)
        (fund,) = estimate.funds
        assert fund.base_date == D(2023, 12, 29)
        assert fund.target_weight == MODEL.weights[symbol]
        assert fund.drift == pytest.approx(fund.current_weight - fund.target_weight)
        assert fund.trade_usd == pytest.approx(-fund.drift * AUM)
        assert estimate.trade_usd == fund.trade_usd
        assert estimate.aum_total_usd == AUM
        trades[symbol] = fund.trade_usd
        assert estimate.pct_adv is None and estimate.adv_usd is None
    assert trades["SPY"] / AUM * 100 == pytest.approx(-0.356, abs=6e-4)
    assert trades["AGG"] / AUM * 100 == pytest.approx(1.231, abs=6e-4)
    assert trades["BTC"] / AUM * 100 == pytest.approx(-0.874, abs=6e-4)
    assert trades["BTC"] == pytest.approx((0.02 - 0.03 / 1.0438) * AUM)
    btc = estimate_rebalance("BTC", D(2024, 3, 25), [MODEL], closes, adv_usd=None)
    assert btc.funds[0].current_weight * 100 == pytest.approx(2.874, abs=6e-4)
    assert btc.direction == "sell"
    assert sum(trades.values()) == pytest.approx(0.0, abs=1e-3)


def test_estimate_uses_last_close_on_or_before_and_the_schedule():
    closes = _worked_example_closes()
    # A Saturday as-of uses Monday 25th's closes (the last on or before); base dates follow the
    # fund's own schedule.
    monthly = _fund(MODEL.weights, rebalance="monthly", name="monthly")
    estimate = estimate_rebalance("BTC", D(2024, 3, 30), [MODEL, monthly], closes, adv_usd=None)
    quarterly_drift, monthly_drift = estimate.funds
    # On Saturday 30th the quarter that ended on Thursday 28th is the base: no data since, so the
    # series' last close on or before the base (25th) equals the as-of close: no drift.
    assert quarterly_drift.base_date == D(2024, 3, 28)
    assert quarterly_drift.drift == pytest.approx(0.0)
    assert monthly_drift.base_date == D(2024, 3, 28)
    estimate = estimate_rebalance("BTC", D(2024, 3, 25), [MODEL, monthly], closes, adv_usd=None)
    assert estimate.funds[1].base_date == D(2024, 2, 29)
    growth = np.array([475 * 1.05 / 500.0, 98.0 * 1.01 / 97.5, 63000.0 / 61000.0])
    expected = rebalance_trades(TARGETS, growth, AUM)[2]
    assert estimate.funds[1].trade_usd == pytest.approx(expected)
    assert estimate.trade_usd == pytest.approx(estimate.funds[0].trade_usd + expected)


def test_price_before_data_start_is_an_input_error():
    closes = _worked_example_closes()
    with pytest.raises(InputError, match="BTC data starts 2023-12-29"):
        price_on_or_before(closes["BTC"], D(2023, 12, 1), "BTC")


# --- direction, ADV, what-if ---------------------------------------------------------------------


def test_direction_neutral_band():
    assert direction_of(5.0, 10.0) == "neutral"
    assert direction_of(-10.0, 10.0) == "neutral"  # the band's edge is neutral
    assert direction_of(10.01, 10.0) == "buy"
    assert direction_of(-10.01, 10.0) == "sell"
    assert direction_of(0.0, 0.0) == "neutral"


def test_direction_band_follows_adv_and_pct_adv_is_a_percentage():
    closes = _worked_example_closes()
    trade = estimate_rebalance("BTC", D(2024, 3, 25), [MODEL], closes, None).trade_usd
    assert trade < 0
    # |trade| is 0.4 % of this ADV: neutral under a 0.5 % band, a sell under a 0.3 % band.
    adv = abs(trade) / 0.004
    estimate = estimate_rebalance(
        "BTC", D(2024, 3, 25), [MODEL], closes, adv, neutral_band_pct_adv=0.5
    )
    assert estimate.pct_adv == pytest.approx(0.4)
    assert estimate.adv_usd == adv
    assert estimate.direction == "neutral"
    estimate = estimate_rebalance(
        "BTC", D(2024, 3, 25), [MODEL], closes, adv, neutral_band_pct_adv=0.3
    )
    assert estimate.direction == "sell"
    # Without ADV the absolute band applies.
    assert estimate_rebalance(
        "BTC", D(2024, 3, 25), [MODEL], closes, None, neutral_band_usd=abs(trade) * 2
    ).direction == ("neutral")


def test_what_if_sign_and_monotonicity():
    # Flat prices: no drift now. A rally in the asset makes funds sell it, a fall makes them buy,
    # and a bigger move a bigger trade.
    flat = _closes(
        {
            s: {D(2023, 12, 29): p, D(2024, 3, 25): p}
            for s, p in (("SPY", 475.0), ("AGG", 98.0), ("BTC", 42000.0))
        }
    )
    estimate = estimate_rebalance("BTC", D(2024, 3, 25), [MODEL], flat, None)
    assert estimate.trade_usd == pytest.approx(0.0, abs=1e-6)
    assert [w.move for w in estimate.what_if] == list(WHAT_IF_MOVES)
    trades = [w.trade_usd for w in estimate.what_if]
    assert trades == sorted(trades, reverse=True)
    by_move = {w.move: w for w in estimate.what_if}
    assert by_move[-0.2].trade_usd > by_move[-0.1].trade_usd > 0 > by_move[0.1].trade_usd
    assert by_move[0.1].trade_usd > by_move[0.2].trade_usd
    assert by_move[0.1].direction == "sell" and by_move[-0.1].direction == "buy"
    # +10 % on BTC alone: 0.02*1.1 / (0.98 + 0.022) of the fund.
    assert by_move[0.1].trade_usd == pytest.approx((0.02 - 0.022 / 1.002) * AUM)


def test_what_if_moves_from_the_current_drift():
    closes = _worked_example_closes()
    estimate = estimate_rebalance("BTC", D(2024, 3, 25), [MODEL], closes, None)
    for what_if in estimate.what_if:
        growth = GROWTH.copy()
        growth[2] *= 1 + what_if.move
        assert what_if.trade_usd == pytest.approx(rebalance_trades(TARGETS, growth, AUM)[2])
    trades = [estimate.what_if[0].trade_usd, estimate.what_if[1].trade_usd]
    trades += [estimate.trade_usd, estimate.what_if[2].trade_usd, estimate.what_if[3].trade_usd]
    assert trades == sorted(trades, reverse=True)


def _bars(days: pd.DatetimeIndex, close: np.ndarray, volume: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"close": close, "volume": volume, "adj_close": close}, index=days.rename("date")
    )


def test_average_dollar_volume():
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    close = np.arange(1.0, 31.0)
    volume = np.full(30, 10.0)
    bars = _bars(days, close, volume)
    # The 20 bars up to Jan 25th: closes 6..25.
    assert average_dollar_volume(bars, D(2024, 1, 25)) == pytest.approx(np.mean(close[5:25]) * 10)
    # Bars after as-of are ignored, shorter windows work.
    assert average_dollar_volume(bars, D(2024, 1, 25), sessions=5) == pytest.approx(230.0)
    # Not enough history, or no volume: unknown.
    assert average_dollar_volume(bars, D(2024, 1, 10)) is None
    assert average_dollar_volume(_bars(days, close, np.zeros(30)), D(2024, 1, 30)) is None


# --- properties ---------------------------------------------------------------------------------

_weights = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6).map(
    lambda raw: np.array(raw) / np.sum(raw)
)


@st.composite
def _fund_and_growth(draw):
    weights = draw(_weights)
    growth = np.array(
        draw(st.lists(st.floats(0.2, 5.0), min_size=len(weights), max_size=len(weights)))
    )
    return weights, growth


@given(_fund_and_growth(), st.floats(1e6, 1e12))
def test_drifted_weights_sum_to_one_and_trades_sum_to_zero(case, aum):
    weights, growth = case
    current = drifted_weights(weights, growth)
    assert current.sum() == pytest.approx(1.0, abs=1e-12)
    assert (current > 0).all()
    trades = rebalance_trades(weights, growth, aum)
    assert trades.sum() == pytest.approx(0.0, abs=aum * 1e-12)


@given(_weights, st.floats(0.2, 5.0), st.floats(1e6, 1e12))
def test_no_drift_when_all_returns_are_equal(weights, common_growth, aum):
    growth = np.full(len(weights), common_growth)
    assert drifted_weights(weights, growth) == pytest.approx(weights, abs=1e-14)
    assert rebalance_trades(weights, growth, aum) == pytest.approx(np.zeros(len(weights)), abs=1e-3)


@given(_fund_and_growth())
def test_trade_opposes_relative_performance(case):
    """An asset that beat the fund's weighted-average growth is sold; one that lagged is bought."""
    weights, growth = case
    fund_growth = float(weights @ growth)
    trades = rebalance_trades(weights, growth, 1e9)
    for asset_growth, trade in zip(growth, trades, strict=True):
        relative = asset_growth / fund_growth - 1.0
        if abs(relative) < 1e-9:
            continue
        assert np.sign(trade) == -np.sign(relative)


@given(_fund_and_growth())
def test_vectorized_rows_match_one_at_a_time(case):
    weights, growth = case
    stacked = np.vstack([growth, growth[::-1], np.ones_like(growth)])
    together = drifted_weights(weights, stacked)
    for row, g in zip(together, stacked, strict=True):
        assert row == pytest.approx(drifted_weights(weights, g))


# --- the vectorized path agrees with the per-day estimate ---------------------------------------


def _random_market(seed: int) -> pd.DataFrame:
    """Four years of closes: crypto every day, equities/bonds on NYSE sessions (NaN otherwise)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2020-01-01", "2023-12-31", freq="D", name="date")
    sessions = pd.DatetimeIndex(calendar.sessions_between(D(2020, 1, 1), D(2023, 12, 31)))
    vols = {"BTC": 0.035, "ETH": 0.045, "SPY": 0.011, "QQQ": 0.014, "AGG": 0.003, "TLT": 0.009}
    columns = {}
    for symbol, vol in vols.items():
        path = 100.0 * np.exp(np.cumsum(rng.normal(0, vol, len(days))))
        series = pd.Series(path, index=days)
        if symbol not in ("BTC", "ETH"):
            series[~days.isin(sessions)] = np.nan
        columns[symbol] = series
    return pd.DataFrame(columns)


def _random_funds(seed: int, count: int) -> list[RebalancingFund]:
    rng = np.random.default_rng(seed)
    symbols = np.array(["BTC", "ETH", "SPY", "QQQ", "AGG", "TLT"])
    funds = []
    for number in range(count):
        held = rng.choice(symbols, size=rng.integers(2, 6), replace=False)
        raw = rng.uniform(0.05, 1.0, len(held))
        weights = dict(zip(held.tolist(), (raw / raw.sum()).tolist(), strict=True))
        funds.append(
            _fund(
                weights,
                rebalance=("monthly", "quarterly")[number % 2],
                aum=float(rng.uniform(1e8, 1e11)),
                name=f"fund {number}",
            )
        )
    return funds


def test_aggregate_trade_path_agrees_with_estimate_rebalance():
    closes = _random_market(7)
    funds = _random_funds(11, 24)
    days = pd.date_range("2021-01-01", "2023-12-31", freq="D")
    path = aggregate_trade_path(funds, closes, days)
    assert path.shape == (len(days), 6)
    assert np.isfinite(path.to_numpy()).all()
    series = {symbol: closes[symbol].dropna() for symbol in closes}
    rng = np.random.default_rng(3)
    picks = [pd.Timestamp(d) for d in rng.choice(days, size=8, replace=False)]
    # Always include a weekend, a holiday, a quarter's last session and the day after it.
    picks += [pd.Timestamp(d) for d in ("2022-03-26", "2021-04-02", "2023-06-30", "2023-07-03")]
    for day in picks:
        for symbol in path.columns:
            holders = [fund for fund in funds if symbol in fund.weights]
            expected = estimate_rebalance(symbol, day.date(), holders, series, None).trade_usd
            assert path.loc[day, symbol] == pytest.approx(expected, rel=1e-9, abs=1e-3), (
                day,
                symbol,
            )
    # Every day, each fund's trades sum to zero, so the aggregate does too.
    assert np.abs(path.sum(axis=1).to_numpy()).max() < 1e-3


def test_aggregate_trade_path_single_schedule_and_zero_on_period_end():
    closes = _random_market(5)
    funds = [f for f in _random_funds(2, 6) if f.rebalance == "quarterly"]
    days = pd.DatetimeIndex([pd.Timestamp("2023-03-31"), pd.Timestamp("2023-04-03")])
    path = aggregate_trade_path(funds, closes, days)
    # The day after a quarter end, growth since the base covers only that one day.
    series = {symbol: closes[symbol].dropna() for symbol in closes}
    for symbol in path.columns:
        holders = [fund for fund in funds if symbol in fund.weights]
        expected = estimate_rebalance(symbol, D(2023, 4, 3), holders, series, None).trade_usd
        assert path.loc["2023-04-03", symbol] == pytest.approx(expected, rel=1e-9, abs=1e-3)


def test_price_on_or_before_reads_any_time_unit_of_the_index():
    from flows.rebalance import price_on_or_before

    days = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-05"])
    for unit in ("s", "ms", "us", "ns"):
        closes = pd.Series([1.0, 2.0, 3.0], index=days.as_unit(unit))
        assert price_on_or_before(closes, dt.date(2024, 1, 4), "X") == 2.0, unit
        assert price_on_or_before(closes, dt.date(2024, 1, 5), "X") == 3.0, unit
        with pytest.raises(InputError, match="X data starts 2024-01-02"):
            price_on_or_before(closes, dt.date(2024, 1, 1), "X")
