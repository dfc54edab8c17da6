"""Did an asset move more on past period-end sessions than on other sessions?

The evidence behind a volatility answer: absolute daily log returns on the final sessions of
every complete past quarter (or month) in the data, against every other NYSE session. Crypto
trades every day, but only its NYSE-session days are compared, so weekends do not dilute the
"other" group.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd

from flows import calendar
from flows.questions.results import VolatilityHistory
from flows.volatility import log_returns

MIN_PERIODS = 4
"""Fewer past period ends than this is an anecdote, not a comparison."""


def _period_label(day: dt.date, unit: Literal["month", "quarter"]) -> str:
    if unit == "quarter":
        return calendar.quarter_label(*calendar.quarter_of(day))
    return f"{day:%Y-%m}"


def period_end_volatility(
    closes: pd.Series,
    as_of: dt.date,
    asset: str,
    unit: Literal["month", "quarter"] = "quarter",
    final_sessions: int = calendar.REBALANCE_WINDOW_SESSIONS,
) -> VolatilityHistory | None:
    """The comparison over the history in `closes` up to `as_of`; None when it is too short."""
    returns = log_returns(closes.loc[: pd.Timestamp(as_of)])
    if len(returns) < 2 or final_sessions < 1:
        return None
    # The NYSE calendar starts in 2000: older history cannot be placed against sessions.
    first = max(returns.index[0].date(), calendar.calendar_range()[0])
    last = returns.index[-1].date()
    if first >= last:
        return None
    sessions = calendar.sessions_between(first, last)
    on_sessions = returns[returns.index.isin(pd.DatetimeIndex(sessions))]
    position = {day: index for index, day in enumerate(sessions)}
    schedule: calendar.Schedule = "quarterly" if unit == "quarter" else "monthly"
    window_days: set[pd.Timestamp] = set()
    ends: list[dt.date] = []
    for end in calendar.period_ends_between(first, last, schedule):
        index = position[end]
        if index - final_sessions + 1 < 0:
            continue
        days = [pd.Timestamp(day) for day in sessions[index - final_sessions + 1 : index + 1]]
        if all(day in on_sessions.index for day in days):
            window_days.update(days)
            ends.append(end)
    if len(ends) < MIN_PERIODS:
        return None
    in_window = on_sessions.index.isin(pd.DatetimeIndex(sorted(window_days)))
    signed = on_sessions.to_numpy()
    inside, outside = np.abs(signed[in_window]), np.abs(signed[~in_window])
    if len(outside) < 2:
        return None
    inside_mean, outside_mean = float(np.mean(inside)), float(np.mean(outside))
    return VolatilityHistory(
        asset=asset,
        period=unit,
        final_sessions=final_sessions,
        periods=len(ends),
        first_period=_period_label(ends[0], unit),
        last_period=_period_label(ends[-1], unit),
        window_days=len(inside),
        other_days=len(outside),
        window_mean_abs_return=inside_mean,
        other_mean_abs_return=outside_mean,
        ratio=inside_mean / outside_mean if outside_mean > 0 else None,
        window_daily_vol=float(np.std(signed[in_window], ddof=1)) if len(inside) > 1 else None,
        other_daily_vol=float(np.std(signed[~in_window], ddof=1)),
    )
