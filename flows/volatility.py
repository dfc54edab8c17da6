"""Realized volatility, its regime, a GARCH outlook, and the trade of vol-targeting funds.

Realized vol is the sample standard deviation (ddof=1) of the last `window` daily log returns,
annualised with sqrt(365) for crypto and sqrt(252) otherwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flows.assets import AssetClass
from flows.funds import VolTargetFund
from flows.results import VolatilityReport, VolTargetFlow

REALIZED_WINDOW = 20
EWMA_LAMBDA = 0.94
GARCH_HORIZON = 5
GARCH_MIN_OBSERVATIONS = 250
GARCH_MAX_OBSERVATIONS = 1500
REGIME_HISTORY = 250


@dataclass(frozen=True, slots=True)
class RegimeBands:
    """Regime names in rising order and the annualised-vol boundaries between them.

    `hysteresis` is relative: to move up past boundary b the vol must exceed b * (1 + h); to move
    back down it must fall below b * (1 - h), so a value hovering at a boundary does not flip.
    """

    boundaries: tuple[float, ...]
    names: tuple[str, ...] = ("calm", "normal", "elevated", "stressed")
    hysteresis: float = 0.05

    def __post_init__(self) -> None:
        if len(self.names) != len(self.boundaries) + 1:
            raise ValueError("regime bands need one more name than boundaries")
        if list(self.boundaries) != sorted(self.boundaries):
            raise ValueError("regime boundaries must rise")

    def classify(self, vol: float) -> int:
        """Plain regime index with no memory."""
        return int(np.searchsorted(np.asarray(self.boundaries), vol, side="right"))

    def step(self, current: int, vol: float) -> int:
        """The regime after observing `vol` while in regime `current`."""
        while current < len(self.boundaries) and vol > self.boundaries[current] * (
            1 + self.hysteresis
        ):
            current += 1
        while current > 0 and vol < self.boundaries[current - 1] * (1 - self.hysteresis):
            current -= 1
        return current

    def path(self, vols: Sequence[float]) -> list[int]:
        regimes: list[int] = []
        for vol in vols:
            regimes.append(self.classify(vol) if not regimes else self.step(regimes[-1], vol))
        return regimes

    def as_dict(self) -> dict[str, float]:
        return {
            f"{name}_below": bound for name, bound in zip(self.names, self.boundaries, strict=False)
        }


DEFAULT_BANDS: dict[AssetClass, RegimeBands] = {
    AssetClass.CRYPTO: RegimeBands((0.40, 0.60, 0.85)),
    AssetClass.EQUITY: RegimeBands((0.12, 0.20, 0.30)),
    AssetClass.INDEX: RegimeBands((0.12, 0.20, 0.30)),
    AssetClass.BOND: RegimeBands((0.04, 0.07, 0.10)),
    AssetClass.COMMODITY: RegimeBands((0.12, 0.20, 0.30)),
}


def log_returns(closes: pd.Series) -> pd.Series:
    return np.log(closes).diff().dropna()


def realized_vol_series(
    closes: pd.Series, periods: int, window: int = REALIZED_WINDOW
) -> pd.Series:
    """Annualised rolling realized vol; NaN until `window` returns exist."""
    return log_returns(closes).rolling(window).std(ddof=1) * math.sqrt(periods)


def recent_realized_vols(closes: np.ndarray, periods: int, window: int, count: int) -> np.ndarray:
    """The last `count` values of the annualised rolling realized vol, computed with numpy on
    just the closes they need (a monitor tick evaluates many assets; pandas per asset adds up)."""
    recent = np.log(closes[-(count + window + 1) :])
    returns = np.diff(recent)
    if len(returns) < window:
        return np.empty(0)
    windows = np.lib.stride_tricks.sliding_window_view(returns, window)
    return windows.std(axis=1, ddof=1) * math.sqrt(periods)


def ewma_vol(closes: pd.Series, periods: int, lam: float = EWMA_LAMBDA) -> float | None:
    """RiskMetrics EWMA vol, seeded with the variance of the first 20 returns."""
    returns = np.diff(np.log(closes.to_numpy()))
    if len(returns) < REALIZED_WINDOW + 1:
        return None
    seed = float(np.var(returns[:REALIZED_WINDOW], ddof=1))
    rest = returns[REALIZED_WINDOW:]
    # The recursion v = lam*v + (1-lam)*r^2 unrolled: one weighted sum instead of a Python loop.
    weights = (1 - lam) * lam ** np.arange(len(rest) - 1, -1, -1, dtype=float)
    variance = lam ** len(rest) * seed + float(np.dot(weights, rest * rest))
    return math.sqrt(variance * periods)


def garch_forecast(closes: pd.Series, periods: int, horizon: int = GARCH_HORIZON) -> float | None:
    """Annualised mean vol over the next `horizon` days from a GARCH(1,1), or None."""
    returns = log_returns(closes).tail(GARCH_MAX_OBSERVATIONS)
    if len(returns) < GARCH_MIN_OBSERVATIONS:
        return None
    from flows.lazy_imports import arch_model as load_arch_model

    arch_model = load_arch_model()
    # arch works best with returns in percent; the forecast is converted back below.
    model = arch_model(returns.to_numpy() * 100.0, mean="Constant", vol="GARCH", p=1, q=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.fit(disp="off", show_warning=False)
            variance = fitted.forecast(horizon=horizon, reindex=False).variance.to_numpy()[-1]
    except (ValueError, np.linalg.LinAlgError, RuntimeError):
        return None
    if not np.all(np.isfinite(variance)) or fitted.convergence_flag != 0:
        return None
    return math.sqrt(float(np.mean(variance)) * periods) / 100.0


def exposure_for(entry: VolTargetFund, realized: float) -> float:
    return min(entry.max_exposure, entry.target_vol / realized)


def vol_target_flows(
    entries: Sequence[VolTargetFund], realized: float | None, previous_realized: float | None
) -> list[VolTargetFlow]:
    """exposure = min(max, target / realized); trade = AUM * (exposure_t - exposure_{t-1})."""
    flows = []
    for entry in entries:
        now = exposure_for(entry, realized) if realized else None
        before = exposure_for(entry, previous_realized) if previous_realized else None
        trade = None if now is None or before is None else entry.aum_usd * (now - before)
        bounds = entry.aum_range_usd
        flows.append(
            VolTargetFlow(
                trade_usd_range=None
                if trade is None or bounds is None
                else [trade * bounds[0] / entry.aum_usd, trade, trade * bounds[1] / entry.aum_usd],
                name=entry.name,
                aum_usd=entry.aum_usd,
                aum_source=entry.aum_source,
                target_vol=entry.target_vol,
                max_exposure=entry.max_exposure,
                exposure=now,
                previous_exposure=before,
                trade_usd=trade,
            )
        )
    return flows


def assess_volatility(
    closes: pd.Series,
    periods: int,
    bands: RegimeBands,
    vol_targets: Sequence[VolTargetFund],
    window: int = REALIZED_WINDOW,
    with_garch: bool = True,
) -> VolatilityReport:
    """Volatility at the last close of `closes` against the observation before it."""
    vols = recent_realized_vols(closes.to_numpy(), periods, window, REGIME_HISTORY + 1)
    realized = float(vols[-1]) if len(vols) else None
    previous = float(vols[-2]) if len(vols) > 1 else None
    regimes = bands.path(vols.tolist())
    regime = bands.names[regimes[-1]] if regimes else None
    previous_regime = bands.names[regimes[-2]] if len(regimes) > 1 else None
    garch = garch_forecast(closes, periods) if with_garch else None
    garch_regime = None
    if garch is not None and regimes:
        garch_regime = bands.names[bands.step(regimes[-1], garch)]
    flows = vol_target_flows(vol_targets, realized, previous)
    trades = [flow.trade_usd for flow in flows]
    return VolatilityReport(
        window=window,
        periods_per_year=periods,
        realized=realized,
        previous_realized=previous,
        ewma=ewma_vol(closes, periods),
        garch_5d=garch,
        regime=regime,
        previous_regime=previous_regime,
        changed=regime is not None and previous_regime is not None and regime != previous_regime,
        garch_regime=garch_regime,
        bands=bands.as_dict(),
        vol_target=flows,
        # No vol-target program on the asset: unknown (nothing modelled), not a zero trade.
        vol_target_trade_usd=None
        if not trades or any(t is None for t in trades)
        else float(sum(trades)),
    )
