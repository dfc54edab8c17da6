"""Realized vol, EWMA, GARCH, regimes with hysteresis, and the vol-target trade."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from flows.assets import ASSETS
from flows.funds import VolTargetFund
from flows.volatility import (
    DEFAULT_BANDS,
    RegimeBands,
    assess_volatility,
    ewma_vol,
    garch_forecast,
    realized_vol_series,
    vol_target_flows,
)

EQUITY_BANDS = RegimeBands((0.12, 0.20, 0.30), hysteresis=0.05)


def _closes(log_returns: np.ndarray, start: str = "2023-01-01") -> pd.Series:
    path = 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(log_returns))))
    return pd.Series(path, index=pd.date_range(start, periods=len(path), freq="D", name="date"))


def _hand_realized(closes: list[float], periods: int) -> float:
    """Sample std (ddof=1) of the last 20 log returns, annualised: no pandas, no numpy."""
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)][-20:]
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return math.sqrt(variance) * math.sqrt(periods)


# --- realized and EWMA -------------------------------------------------------------------------


def test_annualisation_days_by_asset_class():
    assert ASSETS["BTC"].annualization_days == 365
    assert ASSETS["ETH"].annualization_days == 365
    assert ASSETS["SPY"].annualization_days == 252
    assert ASSETS["AGG"].annualization_days == 252


@pytest.mark.parametrize("periods", [365, 252])
def test_realized_vol_matches_a_hand_computation(periods):
    rng = np.random.default_rng(1)
    closes = _closes(rng.normal(0.001, 0.02, 60))
    expected = _hand_realized(closes.tolist(), periods)
    series = realized_vol_series(closes, periods)
    assert series.iloc[-1] == pytest.approx(expected, rel=1e-12)
    # NaN until 20 returns exist: the 21st close is the first with a value.
    assert series.first_valid_index() == closes.index[20]
    report = assess_volatility(closes, periods, DEFAULT_BANDS[ASSETS["BTC"].asset_class], [])
    assert report.realized == pytest.approx(expected, rel=1e-12)
    assert report.previous_realized == pytest.approx(
        _hand_realized(closes.tolist()[:-1], periods), rel=1e-12
    )
    assert report.window == 20 and report.periods_per_year == periods


def test_realized_vol_ratio_between_crypto_and_equity_annualisation():
    closes = _closes(np.random.default_rng(2).normal(0, 0.01, 40))
    crypto = realized_vol_series(closes, 365).iloc[-1]
    equity = realized_vol_series(closes, 252).iloc[-1]
    assert crypto / equity == pytest.approx(math.sqrt(365 / 252))


def test_ewma_hand_recursion():
    returns = np.random.default_rng(3).normal(0, 0.02, 45)
    closes = _closes(returns)
    logs = [math.log(b / a) for a, b in itertools.pairwise(closes.tolist())]
    seed = logs[:20]
    mean = sum(seed) / 20
    variance = sum((r - mean) ** 2 for r in seed) / 19
    for r in logs[20:]:
        variance = 0.94 * variance + 0.06 * r * r
    assert ewma_vol(closes, 365) == pytest.approx(math.sqrt(variance * 365), rel=1e-12)
    assert ewma_vol(closes.iloc[:21], 365) is None  # needs more than 20 returns


def test_ewma_converges_to_a_constant_volatility():
    # Returns alternating +r / -r: EWMA of r^2 converges to r^2.
    r = 0.01
    closes = _closes(np.array([r, -r] * 200))
    assert ewma_vol(closes, 252) == pytest.approx(r * math.sqrt(252), rel=1e-6)


# --- GARCH ---------------------------------------------------------------------------------------


def test_garch_forecast_finite_positive_on_enough_data_none_on_too_little():
    # A GARCH(1,1)-like series so the fit has something to find.
    rng = np.random.default_rng(4)
    n = 800
    returns = np.empty(n)
    variance = 0.02**2
    for t in range(n):
        returns[t] = math.sqrt(variance) * rng.standard_normal()
        variance = 0.00002 + 0.08 * returns[t] ** 2 + 0.88 * variance
    closes = _closes(returns)
    forecast = garch_forecast(closes, 365)
    assert forecast is not None and math.isfinite(forecast) and forecast > 0
    # Within a sane distance of the data's own level (daily ~2.5 % -> ~48 % annualised).
    full = float(np.std(returns, ddof=1) * math.sqrt(365))
    assert full / 3 < forecast < full * 3
    assert garch_forecast(closes.iloc[:100], 365) is None


def test_assess_volatility_without_garch_and_on_short_series():
    closes = _closes(np.random.default_rng(5).normal(0, 0.01, 10))
    report = assess_volatility(closes, 252, EQUITY_BANDS, [], with_garch=False)
    assert report.realized is None and report.ewma is None and report.garch_5d is None
    assert report.regime is None and report.previous_regime is None and report.changed is False


# --- regimes -------------------------------------------------------------------------------------


def test_regime_bands_validate():
    with pytest.raises(ValueError):
        RegimeBands((0.1, 0.2), names=("a", "b"))
    with pytest.raises(ValueError):
        RegimeBands((0.2, 0.1))


def test_classify_has_no_memory():
    assert [EQUITY_BANDS.classify(v) for v in (0.05, 0.12, 0.15, 0.25, 0.5)] == [0, 1, 1, 2, 3]
    assert EQUITY_BANDS.as_dict() == {
        "calm_below": 0.12,
        "normal_below": 0.20,
        "elevated_below": 0.30,
    }


def test_hysteresis_keeps_a_hovering_value_in_place():
    # Boundary 0.20 with a 5 % band: up needs > 0.21, down needs < 0.19.
    hovering = [0.19, 0.205, 0.195, 0.209, 0.191, 0.2, 0.208]
    assert EQUITY_BANDS.path(hovering) == [1] * len(hovering)
    from_above = [0.25, 0.195, 0.205, 0.191, 0.209]
    assert EQUITY_BANDS.path(from_above) == [2] * len(from_above)
    # Without hysteresis the same values flip back and forth.
    plain = RegimeBands((0.12, 0.20, 0.30), hysteresis=0.0)
    assert len(set(plain.path(hovering))) == 2


def test_a_big_move_changes_regime_even_across_several_bands():
    assert EQUITY_BANDS.path([0.19, 0.215]) == [1, 2]
    assert EQUITY_BANDS.path([0.19, 0.5]) == [1, 3]
    assert EQUITY_BANDS.path([0.5, 0.05]) == [3, 0]
    assert EQUITY_BANDS.path([0.25, 0.185]) == [2, 1]
    assert EQUITY_BANDS.step(3, 0.29) == 3  # inside the band below 0.30
    assert EQUITY_BANDS.step(3, 0.28) == 2


def test_assess_volatility_reports_a_regime_change_on_a_shock():
    calm = np.array([0.001, -0.001] * 40)
    closes = _closes(np.concatenate((calm, [0.15])))
    report = assess_volatility(closes, 252, EQUITY_BANDS, [], with_garch=False)
    assert report.previous_regime == "calm"
    assert report.regime == "stressed"
    assert report.changed is True
    steady = assess_volatility(_closes(calm), 252, EQUITY_BANDS, [], with_garch=False)
    assert steady.regime == steady.previous_regime == "calm"
    assert steady.changed is False


# --- vol-target flow -----------------------------------------------------------------------------


def _vol_target(target=0.10, cap=1.5, aum=1e11, underlying="SPY") -> VolTargetFund:
    return VolTargetFund(
        name="VC",
        underlying=underlying,
        aum_usd=aum,
        target_vol=target,
        max_exposure=cap,
        aum_source="test",
    )


def test_vol_target_trade_is_aum_times_exposure_change():
    (flow,) = vol_target_flows([_vol_target()], realized=0.20, previous_realized=0.10)
    assert flow.exposure == pytest.approx(0.5)
    assert flow.previous_exposure == pytest.approx(1.0)
    assert flow.trade_usd == pytest.approx(1e11 * (0.5 - 1.0))
    (flow,) = vol_target_flows([_vol_target()], realized=0.125, previous_realized=0.16)
    assert flow.trade_usd == pytest.approx(1e11 * (0.8 - 0.625))
    assert flow.trade_usd > 0  # vol fell: they buy


def test_vol_target_exposure_cap():
    # 0.10 / 0.05 = 2.0 is capped at 1.5; a move from 2.5 to 2.0 (both capped) is no trade.
    (flow,) = vol_target_flows([_vol_target()], realized=0.05, previous_realized=0.04)
    assert flow.exposure == 1.5 and flow.previous_exposure == 1.5
    assert flow.trade_usd == 0.0
    # Leaving the cap: from 1.5 (capped) down to 0.10 / 0.08 = 1.25.
    (flow,) = vol_target_flows([_vol_target()], realized=0.08, previous_realized=0.04)
    assert flow.trade_usd == pytest.approx(1e11 * (1.25 - 1.5))


def test_vol_target_unknown_vol_gives_unknown_trade():
    (flow,) = vol_target_flows([_vol_target()], realized=None, previous_realized=0.1)
    assert flow.exposure is None and flow.trade_usd is None


def test_assess_volatility_vol_target_total():
    closes = _closes(np.random.default_rng(6).normal(0, 0.012, 60))
    entries = [_vol_target(), _vol_target(target=0.15, cap=1.0, aum=5e10)]
    report = assess_volatility(closes, 252, EQUITY_BANDS, entries, with_garch=False)
    realized, previous = report.realized, report.previous_realized
    expected = 1e11 * (min(1.5, 0.10 / realized) - min(1.5, 0.10 / previous))
    expected += 5e10 * (min(1.0, 0.15 / realized) - min(1.0, 0.15 / previous))
    assert report.vol_target_trade_usd == pytest.approx(expected)
    assert [flow.name for flow in report.vol_target] == ["VC", "VC"]
