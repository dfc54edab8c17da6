"""Rebalancing drift of fixed-weight funds and the trade that brings them back to target.

For a fund with target weights w and asset growth R = P(as_of) / P(base_date) since its last
rebalance, the drifted weight of sleeve i is w_i R_i / sum_j w_j R_j, and the trade the fund must
make is (w_i - w_i(t)) * AUM: positive buys, negative sells.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from flows.calendar import period_end_before, period_ends_before
from flows.errors import InputError
from flows.funds import RebalancingFund
from flows.results import Direction, FundDrift, RebalanceEstimate, WhatIf

WHAT_IF_MOVES = (-0.20, -0.10, 0.10, 0.20)


def drifted_weights(target_weights: np.ndarray, growth: np.ndarray) -> np.ndarray:
    """Weights after each sleeve grew by `growth` (the last axis holds the sleeves)."""
    grown = target_weights * growth
    return grown / grown.sum(axis=-1, keepdims=True)


def rebalance_trades(target_weights: np.ndarray, growth: np.ndarray, aum_usd: float) -> np.ndarray:
    """Signed USD trade per sleeve that restores the targets; the trades sum to zero."""
    return (target_weights - drifted_weights(target_weights, growth)) * aum_usd


def direction_of(trade_usd: float, neutral_band_usd: float) -> Direction:
    if abs(trade_usd) <= neutral_band_usd:
        return "neutral"
    return "buy" if trade_usd > 0 else "sell"


def price_on_or_before(closes: pd.Series, day: dt.date, symbol: str) -> float:
    """P(t): the last close on or before `day`."""
    position = int(np.searchsorted(closes.index.values, np.datetime64(day, "D"), side="right")) - 1
    if position < 0:
        first = closes.index[0].date() if len(closes) else "never"
        raise InputError(f"{symbol} data starts {first}, after {day}; pick a later --as-of")
    return float(closes.iloc[position])


def estimate_rebalance(
    asset: str,
    as_of: dt.date,
    funds: Sequence[RebalancingFund],
    closes: Mapping[str, pd.Series],
    adv_usd: float | None,
    neutral_band_pct_adv: float = 0.1,
    neutral_band_usd: float = 1e6,
    moves: Sequence[float] = WHAT_IF_MOVES,
) -> RebalanceEstimate:
    """The trade in `asset` of every fund holding it, their total, and a what-if on the asset.

    `closes` maps each symbol to its total-return close series (adj_close).
    """
    band = neutral_band_usd if adv_usd is None else adv_usd * neutral_band_pct_adv / 100.0
    details: list[FundDrift] = []
    what_if_totals = np.zeros(len(moves))
    for fund in funds:
        symbols = list(fund.weights)
        targets = np.array([fund.weights[s] for s in symbols])
        base_date = period_end_before(as_of, fund.rebalance)
        growth = np.array(
            [
                price_on_or_before(closes[s], as_of, s)
                / price_on_or_before(closes[s], base_date, s)
                for s in symbols
            ]
        )
        position = symbols.index(asset)
        current = drifted_weights(targets, growth)
        trades = rebalance_trades(targets, growth, fund.aum_usd)
        details.append(
            FundDrift(
                name=fund.name,
                aum_usd=fund.aum_usd,
                aum_source=fund.aum_source,
                rebalance=fund.rebalance,
                base_date=base_date,
                target_weight=float(targets[position]),
                current_weight=float(current[position]),
                drift=float(current[position] - targets[position]),
                trade_usd=float(trades[position]),
            )
        )
        shocked = np.tile(growth, (len(moves), 1))
        shocked[:, position] *= 1.0 + np.asarray(moves)
        what_if_totals += rebalance_trades(targets, shocked, fund.aum_usd)[:, position]
    total = float(sum(d.trade_usd for d in details))
    return RebalanceEstimate(
        funds=details,
        trade_usd=total,
        direction=direction_of(total, band),
        pct_adv=None if not adv_usd else 100.0 * abs(total) / adv_usd,
        adv_usd=adv_usd,
        aum_total_usd=float(sum(fund.aum_usd for fund in funds)),
        what_if=[
            WhatIf(move=move, trade_usd=float(t), direction=direction_of(float(t), band))
            for move, t in zip(moves, what_if_totals, strict=True)
        ],
    )


def average_dollar_volume(bars: pd.DataFrame, as_of: dt.date, sessions: int = 20) -> float | None:
    """Mean of close x volume over the last `sessions` bars up to `as_of`; None without volume."""
    end = int(np.searchsorted(bars.index.values, np.datetime64(as_of, "D"), side="right"))
    if end < sessions:
        return None
    close = bars["close"].to_numpy()[end - sessions : end]
    volume = bars["volume"].to_numpy()[end - sessions : end]
    dollar_volume = float(np.mean(close * volume))
    return dollar_volume if dollar_volume > 0 else None


def aggregate_trade_path(
    funds: Sequence[RebalancingFund], closes: pd.DataFrame, days: pd.DatetimeIndex
) -> pd.DataFrame:
    """Aggregate rebalancing trade per symbol for every day in `days`, all funds at once.

    `closes` holds one total-return close column per symbol, indexed by date (gaps such as
    weekends for equities are filled forward, so P(t) is the last close on or before t). The
    algebra sums funds in closed form: for funds sharing a schedule, the total trade in sleeve i is
    sum_f A_f W_fi - R_i * sum_f (A_f / D_f) W_fi with D_f = sum_j W_fj R_j, which is a pair of
    matrix products instead of a loop over funds.
    """
    symbols = sorted({s for fund in funds for s in fund.weights})
    prices = closes[symbols].sort_index().ffill()
    at_days = prices.reindex(days, method="ffill").to_numpy()
    total = np.zeros((len(days), len(symbols)))
    for schedule in ("monthly", "quarterly"):
        group = [fund for fund in funds if fund.rebalance == schedule]
        if not group:
            continue
        weights = np.array([[fund.weights.get(s, 0.0) for s in symbols] for fund in group])
        aum = np.array([fund.aum_usd for fund in group])
        bases = pd.DatetimeIndex(period_ends_before(days, schedule).astype("datetime64[ns]"))
        at_bases = prices.reindex(bases, method="ffill").to_numpy()
        growth = at_days / at_bases
        denominators = growth @ weights.T
        total += (aum @ weights)[None, :] - growth * ((aum[None, :] / denominators) @ weights)
    return pd.DataFrame(total, index=days, columns=symbols)
