"""Liquidity yardsticks: what a rebalancing trade is measured against, per asset class.

A pension fund selling $40bn of "stocks" trades S&P 500 futures and the cash basket, not one
ETF, so its trade is a share of the S&P 500's own traded value, not of SPY's volume. Each asset
class has its yardstick (see docs/trust.md for the sources):

- S&P 500 (SPY): E-mini S&P 500 futures notional (`ES=F` volume x price x $50, the CME contract
  unit) plus SPY's dollar volume.
- crypto: spot volume (base volume x close) summed over a configurable list of major exchanges
  (ccxt `fetch_ohlcv`), not an aggregated figure.
- bonds: no daily bond-market traded value is wired in, so the share is unknown unless a CSV
  directory supplies one.
- any other equity ETF: its own dollar volume, named as such.

The series themselves are fetched by `flows.marketdata.liquidity` and handed over inside the
frames mapping under `liquidity_key(symbol)`: a frame with one column `traded_value_usd`, its
basis in `frame.attrs["basis"]` (or, when it could not be had, an empty frame whose
`attrs["unknown_reason"]` says why). Everything here is pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flows.assets import Asset, AssetClass

TRADED_VALUE = "traded_value_usd"
ES_FUTURES = "ES=F"
ES_MULTIPLIER = 50.0
"""USD per S&P 500 index point of one E-mini contract (CME contract specs: "$50 x S&P 500
Index")."""
DEFAULT_SPOT_EXCHANGES = ("coinbase", "binance", "kraken", "bitstamp")
"""ccxt exchange ids whose spot volume makes the crypto yardstick."""


def liquidity_key(symbol: str) -> str:
    """Where a yardstick series sits in a frames mapping (never a ticker: it has a colon)."""
    return f"liquidity:{symbol.upper()}"


@dataclass(frozen=True, slots=True)
class Yardstick:
    """The average daily traded value a trade in one asset is measured against."""

    adv_usd: float | None
    basis: str
    """What the yardstick is and where it comes from; when `adv_usd` is None, why not."""
    sessions: int

    @property
    def known(self) -> bool:
        return self.adv_usd is not None


def kind_of(asset: Asset) -> str:
    """Which yardstick rule applies: sp500, crypto, bond or own (the asset's own volume)."""
    if asset.symbol == "SPY":
        return "sp500"
    if asset.asset_class is AssetClass.CRYPTO:
        return "crypto"
    if asset.asset_class is AssetClass.BOND:
        return "bond"
    return "own"


def unknown_series(reason: str) -> pd.DataFrame:
    """A yardstick series that could not be had, carrying the reason."""
    frame = pd.DataFrame(
        {TRADED_VALUE: pd.Series(dtype="float64", index=pd.DatetimeIndex([], name="date"))}
    )
    frame.attrs["unknown_reason"] = reason
    return frame


def traded_value_series(values: pd.Series, basis: str) -> pd.DataFrame:
    """Wrap a daily traded-value series (USD, date index) with its basis."""
    frame = pd.DataFrame({TRADED_VALUE: values.astype("float64")})
    frame.index = pd.DatetimeIndex(frame.index).normalize().rename("date")
    frame = frame[frame[TRADED_VALUE] > 0].sort_index()
    frame.attrs["basis"] = basis
    return frame


def _mean_through(values: pd.Series, as_of: dt.date, sessions: int) -> float | None:
    end = int(np.searchsorted(values.index.values, np.datetime64(as_of, "D"), side="right"))
    if end < sessions:
        return None
    window = values.to_numpy()[end - sessions : end]
    # A yardstick that stopped weeks before as-of would describe another market.
    last = values.index[end - 1].date()
    if (as_of - last).days > 7:
        return None
    mean = float(np.mean(window))
    return mean if mean > 0 else None


def yardstick(
    asset: Asset,
    as_of: dt.date,
    own_bars: pd.DataFrame,
    frames: Mapping[str, pd.DataFrame],
    sessions: int = 20,
) -> Yardstick:
    """The yardstick of `asset` on `as_of`: the mean traded value of the last `sessions` days."""
    series = frames.get(liquidity_key(asset.symbol))
    kind = kind_of(asset)
    if series is not None and not series.empty:
        mean = _mean_through(series[TRADED_VALUE], as_of, sessions)
        basis = str(series.attrs.get("basis", "traded value"))
        if mean is None:
            return Yardstick(
                None, f"{basis}: fewer than {sessions} days of it up to {as_of}", sessions
            )
        return Yardstick(mean, f"{sessions}-day average of {basis}", sessions)
    if series is not None and series.attrs.get("unknown_reason"):
        return Yardstick(None, str(series.attrs["unknown_reason"]), sessions)
    if kind == "own":
        dollar = own_bars["close"] * own_bars["volume"]
        mean = _mean_through(dollar, as_of, sessions)
        basis = f"{sessions}-session average of {asset.symbol}'s own dollar volume"
        return Yardstick(mean, basis if mean else f"no {asset.symbol} volume", sessions)
    return Yardstick(None, missing_reason(asset), sessions)


def missing_reason(asset: Asset) -> str:
    """Why the yardstick of `asset` is unknown when no source supplied it."""
    kind = kind_of(asset)
    if kind == "sp500":
        return (
            "S&P 500 traded value unknown: no E-mini futures (ES=F) volume from this source "
            f"(a CSV directory can supply liquidity/{asset.symbol}.csv or ES=F.csv)"
        )
    if kind == "crypto":
        return (
            f"{asset.symbol} spot volume on major exchanges unknown from this source "
            f"(a CSV directory can supply liquidity/{asset.symbol}.csv)"
        )
    return (
        f"no bond-market traded-value measure for {asset.symbol} is wired in "
        f"(a CSV directory can supply liquidity/{asset.symbol}.csv)"
    )


def sp500_traded_value(futures: pd.DataFrame, spy: pd.DataFrame, source: str) -> pd.DataFrame:
    """E-mini notional (volume x close x $50) plus SPY dollar volume, on days both traded."""
    notional = futures["close"] * futures["volume"] * ES_MULTIPLIER
    spy_value = spy["close"] * spy["volume"]
    total = (notional + spy_value).dropna()
    return traded_value_series(
        total,
        f"S&P 500 traded value (E-mini ES=F volume x price x $50 + SPY dollar volume, {source})",
    )
