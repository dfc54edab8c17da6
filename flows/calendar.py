"""NYSE trading calendar: month and quarter ends, the quarter-end rebalancing window.

Institutional funds rebalance on NYSE sessions, so these dates apply to crypto too. Sessions come
from `exchange_calendars` (XNYS); nothing here lists holidays by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from flows.errors import InputError

Schedule = Literal["monthly", "quarterly"]

REBALANCE_WINDOW_SESSIONS = 5
CALENDAR_FIRST_DAY = dt.date(2000, 1, 3)


_preloaded: np.ndarray | None = None


def session_span() -> tuple[dt.date, dt.date]:
    """The days the session table covers: 2000 to the end of the third year from now."""
    return CALENDAR_FIRST_DAY, dt.date(dt.date.today().year + 3, 12, 31)


def compute_sessions() -> np.ndarray:
    """Every NYSE session of `session_span()` from exchange_calendars, as datetime64[D]."""
    import exchange_calendars

    first, last = session_span()
    calendar = exchange_calendars.get_calendar(
        "XNYS", start=first.isoformat(), end=last.isoformat()
    )
    return calendar.sessions.values.astype("datetime64[D]")


def use_sessions(sessions: np.ndarray) -> None:
    """Serve the calendar from `sessions` (a copy of `compute_sessions()` the caller kept, e.g.
    a file cache in the bot layer: building the XNYS calendar costs about 0.3 s a process)."""
    global _preloaded
    values = np.asarray(sessions).astype("datetime64[D]")
    first, last = session_span()
    if (
        values.ndim != 1
        or len(values) == 0
        or values[0] > np.datetime64(first, "D") + np.timedelta64(7, "D")
        or values[-1] < np.datetime64(last, "D") - np.timedelta64(7, "D")
        or np.any(np.diff(values) <= np.timedelta64(0, "D"))
    ):
        raise ValueError("not an NYSE session table for the calendar's span")
    _preloaded = values
    _sessions.cache_clear()


@lru_cache(maxsize=1)
def _sessions() -> np.ndarray:
    """Every NYSE session from 2000 to the end of the third year from now, as datetime64[D]."""
    return _preloaded if _preloaded is not None else compute_sessions()


def _as_day(day: dt.date) -> np.datetime64:
    sessions = _sessions()
    value = np.datetime64(day, "D")
    if value < sessions[0] or value > sessions[-1]:
        raise InputError(
            f"date {day.isoformat()} is outside the NYSE calendar ({sessions[0]} to {sessions[-1]})"
        )
    return value


def _to_date(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").astype(dt.date)


def calendar_range() -> tuple[dt.date, dt.date]:
    sessions = _sessions()
    return _to_date(sessions[0]), _to_date(sessions[-1])


def is_session(day: dt.date) -> bool:
    sessions = _sessions()
    value = _as_day(day)
    index = int(np.searchsorted(sessions, value))
    return index < len(sessions) and sessions[index] == value


def _session_slice(start: dt.date, end: dt.date) -> np.ndarray:
    sessions = _sessions()
    lo = np.searchsorted(sessions, _as_day(start), side="left")
    hi = np.searchsorted(sessions, _as_day(end), side="right")
    return sessions[lo:hi]


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """NYSE sessions from start to end, both inclusive."""
    return _session_slice(start, end).astype(object).tolist()


def session_days(start: dt.date, end: dt.date) -> np.ndarray:
    """The sessions from start to end, both inclusive, as datetime64[D] values (a read-only view:
    the cheapest form for comparing against a frame's index)."""
    return _session_slice(start, end)


def sessions_index(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """The same sessions as a DatetimeIndex (for aligning frames, without per-day objects)."""
    return pd.DatetimeIndex(_session_slice(start, end).astype("datetime64[ns]"))


def session_on_or_before(day: dt.date) -> dt.date:
    sessions = _sessions()
    index = int(np.searchsorted(sessions, _as_day(day), side="right")) - 1
    if index < 0:
        raise InputError(f"no NYSE session on or before {day.isoformat()}")
    return _to_date(sessions[index])


def previous_session(day: dt.date) -> dt.date:
    """The last session strictly before `day`."""
    return session_on_or_before(day - dt.timedelta(days=1))


def next_session(day: dt.date) -> dt.date:
    """The first session strictly after `day`."""
    sessions = _sessions()
    index = int(np.searchsorted(sessions, _as_day(day), side="right"))
    if index >= len(sessions):
        raise InputError(f"no NYSE session after {day.isoformat()} in the calendar")
    return _to_date(sessions[index])


def count_sessions_after(as_of: dt.date, until: dt.date) -> int:
    """Sessions in (as_of, until]: how many closes are left, counting `until` itself."""
    sessions = _sessions()
    lo = np.searchsorted(sessions, _as_day(as_of), side="right")
    hi = np.searchsorted(sessions, _as_day(until), side="right")
    return max(0, int(hi - lo))


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_label(year: int, quarter: int) -> str:
    return f"{year}Q{quarter}"


@lru_cache(maxsize=4096)
def last_session_of_month(year: int, month: int) -> dt.date:
    first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return session_on_or_before(first_of_next - dt.timedelta(days=1))


def last_session_of_quarter(year: int, quarter: int) -> dt.date:
    return last_session_of_month(year, quarter * 3)


def rebalance_window(
    year: int, quarter: int, sessions: int = REBALANCE_WINDOW_SESSIONS
) -> tuple[dt.date, dt.date]:
    """The final `sessions` sessions of a quarter: (first, last)."""
    last = last_session_of_quarter(year, quarter)
    all_sessions = _sessions()
    index = int(np.searchsorted(all_sessions, _as_day(last)))
    return _to_date(all_sessions[index - sessions + 1]), last


def _months_back(year: int, month: int, step: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) - step
    return index // 12, index % 12 + 1


def period_end_on_or_after(day: dt.date, schedule: Schedule) -> dt.date:
    """The earliest month- or quarter-last-session on or after `day` (a fund's next rebalance)."""
    year, month = day.year, day.month
    if schedule == "quarterly":
        month = ((month - 1) // 3 + 1) * 3
    last = last_session_of_month(year, month)
    if last < day:
        year, month = _months_back(year, month, -(3 if schedule == "quarterly" else 1))
        last = last_session_of_month(year, month)
    return last


@lru_cache(maxsize=4096)
def period_end_before(day: dt.date, schedule: Schedule) -> dt.date:
    """The latest month- or quarter-last-session strictly before `day` (a fund's base date)."""
    year, month = day.year, day.month
    if schedule == "quarterly":
        month = ((month - 1) // 3 + 1) * 3
    step = 1 if schedule == "monthly" else 3
    # The period containing `day` ends on or after it unless `day` is past its last session.
    for _ in range(3):
        end = last_session_of_month(year, month)
        if end < day:
            return end
        year, month = _months_back(year, month, step)
    raise AssertionError("unreachable: a period end precedes any day by at most two periods")


def period_ends_before(days: object, schedule: Schedule) -> np.ndarray:
    """`period_end_before` for many days at once (vectorized), as datetime64[D].

    `days` is anything numpy reads as dates: a DatetimeIndex, datetime64 values, dt.date objects.
    """
    values = np.asarray(days, dtype="datetime64[D]")
    if values.size == 0:
        return values
    lo, hi = _to_date(values.min()), _to_date(values.max())
    for day in (lo, hi):
        _as_day(day)  # dates outside the calendar are an InputError, as one by one
    # A period end is never more than a quarter and a few holidays before the day it precedes.
    first = max(calendar_range()[0], lo - dt.timedelta(days=120))
    ends = np.array(period_ends_between(first, hi, schedule), dtype="datetime64[D]")
    positions = np.searchsorted(ends, values, side="left") - 1
    if (positions < 0).any():
        day = _to_date(values[positions < 0][0])
        raise InputError(f"no {schedule} period end before {day} in the NYSE calendar")
    return ends[positions]


def period_ends_between(start: dt.date, end: dt.date, schedule: Schedule) -> list[dt.date]:
    """Month- or quarter-last-sessions in [start, end]."""
    result: list[dt.date] = []
    year, month = start.year, start.month
    while dt.date(year, month, 1) <= end:
        if schedule == "monthly" or month % 3 == 0:
            last = last_session_of_month(year, month)
            if start <= last <= end:
                result.append(last)
        year, month = _months_back(year, month, -1)
    return result


@dataclass(frozen=True, slots=True)
class QuarterEnd:
    """Where `as_of` stands against the next quarter end."""

    quarter: str
    last_session: dt.date
    window_start: dt.date
    sessions_left: int
    in_window: bool


@lru_cache(maxsize=4096)
def quarter_end_status(as_of: dt.date) -> QuarterEnd:
    """The earliest quarter-last-session on or after `as_of`, with its rebalancing window."""
    year, quarter = quarter_of(as_of)
    last = last_session_of_quarter(year, quarter)
    if last < as_of:
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
        last = last_session_of_quarter(year, quarter)
    window_start, _ = rebalance_window(year, quarter)
    return QuarterEnd(
        quarter=quarter_label(year, quarter),
        last_session=last,
        window_start=window_start,
        sessions_left=count_sessions_after(as_of, last),
        in_window=window_start <= as_of <= last,
    )


def upcoming_quarter_ends(start: dt.date, end: dt.date) -> list[QuarterEnd]:
    """Quarter ends whose last session falls in [start, end], seen from `start`."""
    result = []
    for last in period_ends_between(start, end, "quarterly"):
        year, quarter = quarter_of(last)
        window_start, _ = rebalance_window(year, quarter)
        result.append(
            QuarterEnd(
                quarter=quarter_label(year, quarter),
                last_session=last,
                window_start=window_start,
                sessions_left=count_sessions_after(start, last),
                in_window=window_start <= start <= last,
            )
        )
    return result
