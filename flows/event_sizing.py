"""The month- and quarter-end rebalancing trade "if the period ended today", for the calendar.

`size_period_ends` is pure (frames in, sizing out); `load_period_end_sizing` fetches the frames
through MarketData and turns any data failure into an unknown trade with the reason, so the
calendar can still list the event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from flows import calendar
from flows.errors import FlowsError
from flows.funds import FundRegistry, RebalancingFund
from flows.marketdata import MarketData
from flows.money import usd
from flows.rebalance import average_dollar_volume, direction_of, estimate_rebalance
from flows.results import PeriodEndSizing

SIZED_SYMBOLS = ("SPY", "AGG")
"""The legs reported; `trade_usd` of a sized event is the first (SPY)."""
SCHEDULE_OF_KIND = {"month_end": "monthly", "quarter_end": "quarterly"}
ADV_SESSIONS = 20


def next_period_end(kind: str, day: dt.date) -> dt.date:
    """The first month- or quarter-last-session on or after `day`."""
    return calendar.period_end_on_or_after(day, "quarterly" if kind == "quarter_end" else "monthly")


def funds_for(kind: str, registry: FundRegistry) -> tuple[RebalancingFund, ...]:
    """Funds that trade at this kind of period end. Monthly funds are sized on the month_end
    event and quarterly ones on quarter_end, so the two events of a quarter's last day add up
    instead of counting monthly funds twice."""
    schedule = SCHEDULE_OF_KIND[kind]
    return tuple(
        fund
        for fund in registry.funds
        if fund.rebalance == schedule and any(s in fund.weights for s in SIZED_SYMBOLS)
    )


def symbols_needed(registry: FundRegistry) -> set[str]:
    symbols = set(SIZED_SYMBOLS)
    for kind in SCHEDULE_OF_KIND:
        for fund in funds_for(kind, registry):
            symbols |= set(fund.weights)
    return symbols


def unsized(kind: str, reason: str, period_end: dt.date | None = None) -> PeriodEndSizing:
    return PeriodEndSizing(
        kind=kind,  # type: ignore[arg-type]
        period_end=period_end,
        as_of=None,
        trade_usd=None,
        direction=None,
        trades_usd=None,
        basis=f"unknown: {reason}",
    )


def size_period_ends(
    start: dt.date,
    as_of: dt.date,
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    data_source: str,
    neutral_band_pct_adv: float = 0.5,
) -> list[PeriodEndSizing]:
    """The trade at the first month end and quarter end on or after `start`, from the drift
    since the previous period end up to `as_of` (the latest close)."""
    closes = {symbol: frame["adj_close"] for symbol, frame in frames.items()}
    spy = frames["SPY"]
    adv = average_dollar_volume(spy, as_of, ADV_SESSIONS)
    band = 1e6 if adv is None else adv * neutral_band_pct_adv / 100.0
    result = []
    for kind, schedule in SCHEDULE_OF_KIND.items():
        period_end = next_period_end(kind, start)
        funds = funds_for(kind, registry)
        if not funds:
            result.append(
                unsized(
                    kind, f"no {schedule} fund in {registry.source} holds SPY or AGG", period_end
                )
            )
            continue
        previous_end = calendar.period_end_before(period_end, schedule)  # type: ignore[arg-type]
        aum = sum(fund.aum_usd for fund in funds)
        who = f"{len(funds)} {schedule} fund(s), AUM ${aum / 1e9:,.0f}bn ({registry.source})"
        if as_of <= previous_end:
            # Nothing has moved since the last rebalance as far as the data goes.
            trades = dict.fromkeys(SIZED_SYMBOLS, 0.0)
            basis = (
                f"if the period ended on {as_of}: no drift yet, the latest close is not after "
                f"the previous {schedule} rebalance on {previous_end}; {who}; data {data_source}"
            )
        else:
            trades = {}
            for symbol in SIZED_SYMBOLS:
                holders = [fund for fund in funds if symbol in fund.weights]
                estimate = estimate_rebalance(symbol, as_of, holders, closes, None, moves=())
                trades[symbol] = estimate.trade_usd
            basis = (
                f"if the period ended on {as_of}: drift since {previous_end} of "
                f"{who}; SPY leg shown, AGG {usd(trades['AGG'], signed=True)}; "
                f"closes from {data_source}"
            )
        result.append(
            PeriodEndSizing(
                kind=kind,  # type: ignore[arg-type]
                period_end=period_end,
                as_of=as_of,
                trade_usd=trades["SPY"],
                direction=direction_of(trades["SPY"], band),
                trades_usd=trades,
                basis=basis,
            )
        )
    return result


async def load_period_end_sizing(
    start: dt.date,
    market: MarketData,
    registry: FundRegistry,
    data_source: str,
    neutral_band_pct_adv: float = 0.5,
) -> list[PeriodEndSizing]:
    """Fetch what the sizing needs and size; a data failure gives unknown trades with the reason."""
    from flows import freshness
    from flows.status import load_frames

    today = freshness.today_utc()
    as_of = start if start < today else None
    try:
        as_of, frames = await load_frames(symbols_needed(registry), as_of, market, "SPY")
        lag = freshness.data_lag(as_of, today) if start >= today else None
        if lag is not None:
            # "If the period ended on the latest close" means nothing when that close is old.
            return [
                unsized(kind, f"{lag.line}: too old to size", next_period_end(kind, start))
                for kind in SCHEDULE_OF_KIND
            ]
        return size_period_ends(start, as_of, frames, registry, data_source, neutral_band_pct_adv)
    except FlowsError as exc:
        return [
            unsized(kind, f"market data unavailable ({exc})", next_period_end(kind, start))
            for kind in SCHEDULE_OF_KIND
        ]
