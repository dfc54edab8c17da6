"""Leveraged and inverse ETF rebalancing: the formula, aggregation, the actual-move path and the
replay the letf monitor relies on (fires on big-move days only)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows import calendar
from flows.errors import InputError, MarketDataError
from flows.funds import load_registry, parse_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource, sample_bars
from flows.models.leveraged import (
    adv_series,
    build_letf,
    daily_move,
    estimate_letf,
    fund_trade_usd,
    funds_on,
    implied_move_threshold,
    letf_alert_check,
    letf_history,
    rebalance_multiplier,
    reset_move,
    sensitivity_usd,
    validate_move,
)
from flows.rebalance import average_dollar_volume

D = dt.date

REGISTRY = parse_registry(
    """
[[leveraged]]
name = "Bull 3x"
ticker = "BULL"
underlying = "QQQ"
leverage = 3
aum_usd = 1.0e9
aum_source = "test: 3x fund"

[[leveraged]]
name = "Bear 3x"
ticker = "BEAR"
underlying = "QQQ"
leverage = -3
aum_usd = 5.0e8
aum_source = "test: -3x fund"

[[leveraged]]
name = "Bull 2x"
underlying = "QQQ"
leverage = 2
aum_usd = 2.0e9
aum_source = "test: 2x fund"

[[leveraged]]
name = "Small 3x"
underlying = "IWM"
leverage = 3
aum_usd = 1.0e9
aum_source = "test"
""",
    "test funds",
)


@pytest.mark.parametrize(("leverage", "multiplier"), [(2, 2), (3, 6), (-1, 2), (-2, 6), (-3, 12)])
def test_rebalance_multipliers(leverage, multiplier):
    assert rebalance_multiplier(leverage) == multiplier


def test_one_billion_three_x_up_five_percent_buys_three_hundred_million():
    assert fund_trade_usd(1.0e9, 3, 0.05) == pytest.approx(3.0e8)


@pytest.mark.parametrize("leverage", [2, 3, -1, -2, -3])
@pytest.mark.parametrize("move", [0.03, -0.03])
def test_long_and_inverse_funds_trade_in_the_direction_of_the_move(leverage, move):
    trade = fund_trade_usd(1.0e9, leverage, move)
    assert (trade > 0) == (move > 0)


def test_the_formula_restores_the_leverage():
    # After the move, exposure L·A·(1+r) plus the trade must equal L times the new NAV.
    aum, move = 1.0e9, -0.07
    for leverage in (2, 3, -1, -2, -3):
        exposure = leverage * aum * (1 + move)
        nav = aum * (1 + leverage * move)
        assert exposure + fund_trade_usd(aum, leverage, move) == pytest.approx(leverage * nav)


def test_estimate_aggregates_per_underlying_with_pct_adv():
    estimate = estimate_letf("qqq", -0.04, REGISTRY, adv_usd=2.0e10, as_of=D(2026, 3, 2))
    assert estimate.underlying == "QQQ"
    assert [f.name for f in estimate.funds] == ["Bull 3x", "Bear 3x", "Bull 2x"]
    expected = -0.04 * (1.0e9 * 6 + 5.0e8 * 12 + 2.0e9 * 2)
    assert estimate.trade_usd == pytest.approx(expected)
    assert [f.trade_usd for f in estimate.funds] == pytest.approx(
        [-0.04 * 6e9, -0.04 * 6e9, -0.04 * 4e9]
    )
    assert estimate.direction == "sell"
    assert estimate.pct_adv == pytest.approx(100 * abs(expected) / 2.0e10)
    assert estimate.trade_per_1pct_usd == pytest.approx(0.01 * 1.6e10)
    assert estimate.aum_total_usd == pytest.approx(3.5e9)
    bear = estimate.funds[1]
    assert (bear.ticker, bear.leverage, bear.multiplier, bear.aum_source) == (
        "BEAR",
        -3.0,
        12.0,
        "test: -3x fund",
    )
    assert "A · L · (L − 1) · r" in estimate.basis and "test funds" in estimate.basis
    assert estimate.funds_source == "test funds"


def test_estimate_without_adv_reports_pct_adv_unknown():
    estimate = estimate_letf("IWM", 0.02, REGISTRY, adv_usd=None)
    assert estimate.trade_usd == pytest.approx(1.0e9 * 6 * 0.02)
    assert estimate.pct_adv is None and estimate.adv_usd is None
    assert estimate.direction == "buy"
    assert estimate_letf("IWM", 0.0, REGISTRY, None).direction == "neutral"


def test_aum_overrides_replace_registry_figures_with_their_source():
    estimate = estimate_letf(
        "QQQ", 0.01, REGISTRY, None, aum_overrides={"BULL": (2.0e9, "live: Yahoo net assets")}
    )
    bull = estimate.funds[0]
    assert (bull.aum_usd, bull.aum_source) == (2.0e9, "live: Yahoo net assets")
    assert bull.trade_usd == pytest.approx(2.0e9 * 6 * 0.01)


def test_no_leveraged_funds_is_an_error_listing_the_covered_underlyings():
    with pytest.raises(InputError, match="underlyings with leveraged ETFs: IWM, QQQ"):
        funds_on("SPY", REGISTRY)
    with pytest.raises(InputError, match="no leveraged or inverse ETF on AGG"):
        estimate_letf("AGG", 0.01, REGISTRY, None)


def test_built_in_registry_covers_the_large_equity_and_crypto_underlyings():
    registry = load_registry()
    for symbol in ("QQQ", "SPY", "SOXX", "IWM", "BTC", "ETH"):
        funds = funds_on(symbol, registry)
        assert all(f.aum_usd > 0 and f.aum_source for f in funds)
    assert any(f.leverage < 0 for f in funds_on("QQQ", registry))


@pytest.mark.parametrize("move", [-0.9, -0.05, 0.0, 0.05, 0.9])
def test_valid_moves(move):
    assert validate_move(move) == move


def test_a_percentage_given_as_a_move_is_rejected_with_the_fraction_suggested():
    with pytest.raises(InputError, match=r"did you mean 0\.05"):
        validate_move(5)
    with pytest.raises(InputError, match="outside"):
        validate_move(-1.5)
    with pytest.raises(InputError, match="not a number"):
        validate_move(float("nan"))


def test_alert_check_and_implied_threshold():
    funds = funds_on("QQQ", REGISTRY)
    assert sensitivity_usd(funds) == pytest.approx(1.6e10)
    assert implied_move_threshold(funds, 8.0e8) == pytest.approx(0.05)
    assert letf_alert_check(estimate_letf("QQQ", -0.05, REGISTRY, None), 8.0e8)
    assert not letf_alert_check(estimate_letf("QQQ", 0.049, REGISTRY, None), 8.0e8)


# --- real series: the sample market ---------------------------------------------------------------

END = D(2025, 12, 31)


def test_daily_move_and_its_errors():
    closes = sample_bars("QQQ", END)["close"]
    move, previous = daily_move(closes, D(2025, 6, 2), "QQQ")
    assert previous == D(2025, 5, 30)
    expected = closes[pd.Timestamp("2025-06-02")] / closes[pd.Timestamp("2025-05-30")] - 1
    assert move == pytest.approx(expected)
    with pytest.raises(InputError, match="no bar on 2025-05-31"):
        daily_move(closes, D(2025, 5, 31), "QQQ")
    with pytest.raises(InputError, match="no bar before"):
        daily_move(closes, closes.index[0].date(), "QQQ")


def test_adv_series_agrees_with_average_dollar_volume():
    bars = sample_bars("QQQ", END)
    adv = adv_series(bars)
    for day in (D(2024, 3, 28), D(2025, 12, 31)):
        assert adv[pd.Timestamp(day)] == pytest.approx(average_dollar_volume(bars, day))
    assert adv.iloc[:19].isna().all()


def test_history_fires_on_big_move_days_only():
    registry = load_registry()
    bars = sample_bars("QQQ", END).loc["2023-01-01":]
    closes = bars["close"]
    funds = funds_on("QQQ", registry)
    # $6bn is a ~3 % move for the built-in QQQ funds ($1.96bn per 1 %).
    threshold = 6.0e9
    implied = implied_move_threshold(funds, threshold)
    assert implied == pytest.approx(6.0e9 / 1.96e11)
    fired = letf_history("QQQ", closes, registry, adv_series(bars), threshold)
    fired_days = {day for day, _ in fired}
    returns = closes.pct_change().iloc[1:]
    assert 0 < len(fired) < 0.1 * len(returns)
    for stamp, move in returns.items():
        if stamp.date() in fired_days:
            assert abs(move) >= implied - 1e-12
        else:
            assert abs(move) < implied + 1e-12
    for day, estimate in fired:
        assert estimate.as_of == day
        assert abs(estimate.trade_usd) >= threshold
        assert letf_alert_check(estimate, threshold)
        assert estimate.direction == ("buy" if estimate.move > 0 else "sell")
        assert estimate.pct_adv is not None


def test_history_with_a_flat_market_never_fires():
    days = pd.bdate_range("2025-01-01", periods=30)
    closes = pd.Series(100.0, index=days)
    assert letf_history("QQQ", closes, REGISTRY, None, 1.0) == []


async def test_build_from_the_actual_move_on_sample_data():
    market = MarketData(SampleSource(today=END))
    estimate = await build_letf("QQQ", market, REGISTRY, as_of=D(2025, 6, 2))
    closes = sample_bars("QQQ", END)["close"]
    move, _ = daily_move(closes, D(2025, 6, 2), "QQQ")
    assert estimate.move == pytest.approx(move)
    assert estimate.trade_usd == pytest.approx(move * 1.6e10)
    assert estimate.as_of == D(2025, 6, 2) and estimate.sample is True
    assert "2025-05-30 → 2025-06-02" in estimate.move_basis
    adv = average_dollar_volume(sample_bars("QQQ", END), D(2025, 6, 2))
    assert estimate.adv_usd == pytest.approx(adv)


async def test_build_rejects_a_holiday_a_future_date_and_a_first_bar():
    market = MarketData(SampleSource(today=END))
    with pytest.raises(InputError, match="not an NYSE session"):
        await build_letf("QQQ", market, REGISTRY, as_of=D(2025, 4, 18))
    with pytest.raises(InputError, match="in the future"):
        await build_letf("QQQ", market, REGISTRY, as_of=D(2099, 1, 2))
    first = sample_bars("QQQ", END).index[0].date()
    with pytest.raises(InputError, match="no bar before"):
        await build_letf("QQQ", market, REGISTRY, as_of=first)


class _BrokenSource:
    name = "broken"
    is_sample = False

    async def fetch(self, symbol, start, end):
        raise MarketDataError(symbol, "broken", "no network")

    async def close(self):
        return None


async def test_build_with_a_hypothetical_move_survives_a_data_failure():
    estimate = await build_letf("QQQ", MarketData(_BrokenSource()), REGISTRY, move=0.05)
    assert estimate.trade_usd == pytest.approx(0.05 * 1.6e10)
    assert estimate.adv_usd is None and estimate.pct_adv is None
    assert "ADV unknown" in estimate.basis and "no network" in estimate.basis
    with pytest.raises(MarketDataError):
        await build_letf("QQQ", MarketData(_BrokenSource()), REGISTRY)


# --- crypto: the US-listed funds reset on NYSE sessions, not on every UTC day --------------------


def test_crypto_funds_reset_from_the_last_nyse_close():
    closes = sample_bars("BTC", END)["close"]
    # Mon 2025-06-02: the funds trade the move since Friday's close, weekend included.
    move, since = reset_move(closes, D(2025, 6, 2), "BTC")
    assert since == D(2025, 5, 30)
    expected = closes[pd.Timestamp("2025-06-02")] / closes[pd.Timestamp("2025-05-30")] - 1
    assert move == pytest.approx(expected)
    assert daily_move(closes, D(2025, 6, 2), "BTC")[1] == D(2025, 6, 1)  # the UTC day's move
    # Good Friday 2025 (Apr 18): no session, so Thursday → Monday.
    assert reset_move(closes, D(2025, 4, 21), "BTC")[1] == D(2025, 4, 17)
    with pytest.raises(InputError, match=r"not an NYSE session.*session before is 2025-05-30"):
        reset_move(closes, D(2025, 5, 31), "BTC")
    # Equities: the previous bar, as before.
    qqq = sample_bars("QQQ", END)["close"]
    assert reset_move(qqq, D(2025, 6, 2), "QQQ") == daily_move(qqq, D(2025, 6, 2), "QQQ")


def test_crypto_history_fires_on_sessions_only_with_session_to_session_moves():
    registry = load_registry()
    closes = sample_bars("BTC", END)["close"].loc["2024-01-01":]
    fired = letf_history("BTC", closes, registry, None, 1.0)  # every session fires
    days = [day for day, _ in fired]
    assert days and all(calendar.is_session(day) for day in days)
    for day, estimate in fired:
        move, since = reset_move(closes, day, "BTC")
        assert estimate.move == pytest.approx(move)
        assert since.isoformat() in estimate.move_basis


async def test_crypto_letf_defaults_to_the_last_session_and_rejects_a_weekend():
    saturday = D(2025, 5, 31)
    market = MarketData(SampleSource(today=saturday))
    registry = load_registry()
    estimate = await build_letf("BTC", market, registry)
    assert estimate.as_of == D(2025, 5, 30)  # the bars end Saturday; the funds reset Friday
    assert estimate.move == pytest.approx(
        reset_move(sample_bars("BTC", saturday)["close"], D(2025, 5, 30), "BTC")[0]
    )
    assert "2025-05-29 → 2025-05-30" in estimate.move_basis
    with pytest.raises(InputError, match=r"not an NYSE session.*session before is 2025-05-30"):
        await build_letf("BTC", market, registry, as_of=saturday)
