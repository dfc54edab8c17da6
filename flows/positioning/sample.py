"""SAMPLE DATA: deterministic synthetic open interest, funding, long/short ratios and ETF flows.

Tied to the sample price series (`flows.marketdata.sample`) so that every classification occurs:
open interest moves with a factor of its own plus a loading on the day's price return, funding
follows the recent trend, ETF flows chase returns. Drawn per calendar day over a fixed span from
a fixed seed: a date's values never change.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from flows.errors import MarketDataError
from flows.marketdata.sample import SAMPLE_LABEL, sample_bars
from flows.positioning.data import DERIVS_COLUMNS, etf_funds, has_derivatives

POSITIONING_SEED = 20241115
_OI_SHARE_OF_ADV = {"BTC": 1.1, "ETH": 0.9, "SOL": 0.8}
"""Sample open interest as a multiple of the sample series' average dollar volume."""
_FUND_SCALE_USD = {"spot": 1.5e8, "index": 8.0e8, "inverse": 4.0e7}


def _seed(*parts: str) -> int:
    return POSITIONING_SEED + sum((i + 1) * ord(c) for i, c in enumerate("".join(parts)))


@lru_cache(maxsize=8)
def _derivs(asset: str) -> pd.DataFrame:
    bars = sample_bars(asset, dt.date(2035, 12, 31))
    returns = bars["close"].pct_change().fillna(0.0).to_numpy()
    rng = np.random.default_rng(_seed("derivs", asset))
    n = len(returns)
    # OI log change: own noise plus a loading that flips sign with a slow regime, so rallies
    # come with both falling OI (short covering) and rising OI (new longs).
    regime = np.sign(np.sin(np.arange(n) / 9.0) + 0.2)
    oi_log = 1.2 * regime * returns + rng.normal(0.0, 0.015, n)
    adv = float((bars["close"] * bars["volume"]).mean())
    oi = _OI_SHARE_OF_ADV[asset] * adv * np.exp(np.cumsum(oi_log) - np.cumsum(oi_log).mean())
    trend = pd.Series(returns).rolling(5, min_periods=1).mean().to_numpy()
    funding = np.round(0.0001 + 0.02 * trend + rng.normal(0.0, 0.00004, n), 6)
    ratio = np.round(np.exp(0.3 * np.tanh(20 * trend) + rng.normal(0.0, 0.05, n)), 4)
    frame = pd.DataFrame(
        {"open_interest_usd": np.round(oi, 0), "funding_rate": funding, "long_short_ratio": ratio},
        index=bars.index,
    )
    return frame[list(DERIVS_COLUMNS)]


@lru_cache(maxsize=8)
def _flows(asset: str) -> pd.DataFrame:
    funds = [f for f in etf_funds() if f.asset == asset]
    if not funds:
        return pd.DataFrame(columns=["date", "fund", "asset", "flow_usd"])
    base = sample_bars("SPY" if asset in ("BTC", "ETH") else asset, dt.date(2035, 12, 31))
    price = sample_bars(asset, dt.date(2035, 12, 31))["close"]
    sessions = base.index
    returns = price.pct_change().reindex(sessions).fillna(0.0).to_numpy()
    rows = []
    for fund in funds:
        rng = np.random.default_rng(_seed("flows", fund.ticker))
        scale = _FUND_SCALE_USD[fund.kind]
        chase = -1.0 if fund.kind == "inverse" else 1.0
        flows = scale * (chase * 40.0 * returns + rng.normal(0.0, 1.0, len(sessions)))
        rows.append(
            pd.DataFrame(
                {"date": sessions, "fund": fund.ticker, "asset": asset, "flow_usd": flows.round(0)}
            )
        )
    return pd.concat(rows, ignore_index=True)


class SamplePositioningSource:
    name = "sample"
    description = SAMPLE_LABEL
    is_sample = True
    flows_confidence = "estimated"
    """Synthetic flows are not published figures."""

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today

    def flows_method(self, fund: str) -> str:
        return "SAMPLE DATA (synthetic flow)"

    def _last(self, end: dt.date) -> pd.Timestamp:
        today = self.today or dt.datetime.now(dt.UTC).date()
        return pd.Timestamp(min(end, today))

    async def derivatives(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if not has_derivatives(asset):
            raise MarketDataError(asset, self.name, "no sample derivatives series")
        return _derivs(asset.upper()).loc[pd.Timestamp(start) : self._last(end)]

    async def etf_flows(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        frame = _flows(asset.upper())
        if frame.empty:
            return frame
        mask = (frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= self._last(end))
        return frame.loc[mask].reset_index(drop=True)

    async def close(self) -> None:
        return None
