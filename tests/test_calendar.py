"""NYSE calendar edge cases, checked against exchange_calendars itself where it matters.

Contract (issue 2, JSON `quarter_end`): the quarter end is the earliest quarter-last-session on or
after `as_of`; `sessions_left` counts the NYSE sessions after `as_of` up to and including it;
`in_window` is `window_start <= as_of <= last_session`; the window is the final 5 sessions.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools

import exchange_calendars
import numpy as np
import pandas as pd
import pytest

from flows import calendar
from flows.errors import InputError
from flows.flow_calendar import flow_calendar

D = dt.date


@pytest.fixture(scope="module")
def xnys_sessions() -> pd.DatetimeIndex:
    """The truth, straight from exchange_calendars (independent of flows.calendar)."""
    xnys = exchange_calendars.get_calendar("XNYS", start="2011-01-03", end="2027-12-31")
    return xnys.sessions


def _period_lasts(sessions: pd.DatetimeIndex, quarterly: bool) -> list[dt.date]:
    """The last session of every month (or quarter) in `sessions`, in order."""
    days = [day.date() for day in sessions]
    lasts = [day for day, after in itertools.pairwise(days) if day.month != after.month]
    return [day for day in lasts if day.month % 3 == 0] if quarterly else lasts


def _truth_quarter_end(sessions: pd.DatetimeIndex, as_of: dt.date) -> dict:
    days = [day.date() for day in sessions]
    last = next(day for day in _period_lasts(sessions, quarterly=True) if day >= as_of)
    window_start = days[days.index(last) - 4]
    return {
        "quarter": f"{last.year}Q{(last.month + 2) // 3}",
        "last_session": last,
        "window_start": window_start,
        "sessions_left": sum(1 for day in days if as_of < day <= last),
        "in_window": window_start <= as_of <= last,
    }


def _as_dict(quarter_end: calendar.QuarterEnd) -> dict:
    return {
        "quarter": quarter_end.quarter,
        "last_session": quarter_end.last_session,
        "window_start": quarter_end.window_start,
        "sessions_left": quarter_end.sessions_left,
        "in_window": quarter_end.in_window,
    }


# --- quarter ends and the rebalancing window -------------------------------------------------


def test_q1_2024_ends_on_the_thursday_before_good_friday():
    assert calendar.last_session_of_quarter(2024, 1) == D(2024, 3, 28)
    assert not calendar.is_session(D(2024, 3, 29))  # Good Friday
    assert calendar.rebalance_window(2024, 1) == (D(2024, 3, 22), D(2024, 3, 28))
    assert calendar.sessions_between(D(2024, 3, 22), D(2024, 3, 28)) == [
        D(2024, 3, 22),
        D(2024, 3, 25),
        D(2024, 3, 26),
        D(2024, 3, 27),
        D(2024, 3, 28),
    ]


@pytest.mark.parametrize(
    ("year", "quarter", "last", "window_start"),
    [
        (2013, 1, D(2013, 3, 28), D(2013, 3, 22)),  # Good Friday 2013-03-29
        (2018, 1, D(2018, 3, 29), D(2018, 3, 23)),  # Good Friday 2018-03-30
        (2023, 4, D(2023, 12, 29), D(2023, 12, 22)),  # Christmas Monday inside the window
        (2024, 2, D(2024, 6, 28), D(2024, 6, 24)),
        (2022, 4, D(2022, 12, 30), D(2022, 12, 23)),  # Christmas observed on Monday 12-26
        (2026, 4, D(2026, 12, 31), D(2026, 12, 24)),
    ],
)
def test_quarter_last_session_and_window(year, quarter, last, window_start):
    assert calendar.last_session_of_quarter(year, quarter) == last
    assert calendar.rebalance_window(year, quarter) == (window_start, last)
    assert len(calendar.sessions_between(window_start, last)) == 5


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # The example: three sessions (26, 27, 28) after Monday 25th, inside the window.
        (D(2024, 3, 25), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 3, True)),
        # The window's first session counts as inside.
        (D(2024, 3, 22), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 4, True)),
        # The session before the window.
        (D(2024, 3, 21), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 5, False)),
        # A weekend inside the window: in the window, sessions 25..28 left.
        (D(2024, 3, 23), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 4, True)),
        # On the last session itself: nothing left, still in the window.
        (D(2024, 3, 28), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 0, True)),
        # Good Friday (holiday) after the quarter's last session: the next quarter.
        (D(2024, 3, 29), ("2024Q2", D(2024, 6, 28), D(2024, 6, 24), 63, False)),
        # Saturday after the quarter end, and the calendar quarter's last day.
        (D(2024, 3, 30), ("2024Q2", D(2024, 6, 28), D(2024, 6, 24), 63, False)),
        (D(2024, 3, 31), ("2024Q2", D(2024, 6, 28), D(2024, 6, 24), 63, False)),
        # Year boundary: New Year's Eve weekend after Q4's last session rolls into next year.
        (D(2023, 12, 30), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 61, False)),
        (D(2024, 1, 1), ("2024Q1", D(2024, 3, 28), D(2024, 3, 22), 61, False)),
        (D(2023, 12, 29), ("2023Q4", D(2023, 12, 29), D(2023, 12, 22), 0, True)),
        # Christmas Day (holiday) inside the Q4 2023 window.
        (D(2023, 12, 25), ("2023Q4", D(2023, 12, 29), D(2023, 12, 22), 4, True)),
    ],
)
def test_quarter_end_status(as_of, expected, xnys_sessions):
    got = calendar.quarter_end_status(as_of)
    quarter, last, window_start, left, in_window = expected
    assert _as_dict(got) == {
        "quarter": quarter,
        "last_session": last,
        "window_start": window_start,
        "sessions_left": left,
        "in_window": in_window,
    }
    assert _as_dict(got) == _truth_quarter_end(xnys_sessions, as_of)


def test_quarter_end_status_matches_exchange_calendars_every_day(xnys_sessions):
    """Every calendar day of 2023-2025 (weekends and holidays included) against the truth."""
    days = [day.date() for day in xnys_sessions]
    quarter_lasts = _period_lasts(xnys_sessions, quarterly=True)
    day = D(2023, 1, 1)
    while day <= D(2025, 12, 31):
        last = next(q for q in quarter_lasts if q >= day)
        window_start = days[days.index(last) - 4]
        expected = {
            "quarter": f"{last.year}Q{(last.month + 2) // 3}",
            "last_session": last,
            "window_start": window_start,
            "sessions_left": bisect.bisect_right(days, last) - bisect.bisect_right(days, day),
            "in_window": window_start <= day <= last,
        }
        assert _as_dict(calendar.quarter_end_status(day)) == expected, day
        day += dt.timedelta(days=1)


# --- month ends ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "last"),
    [
        (2021, 5, D(2021, 5, 28)),  # Memorial Day on Monday 31st
        (2024, 3, D(2024, 3, 28)),  # Good Friday on the 29th, weekend after
        (2024, 2, D(2024, 2, 29)),  # leap day
        (2023, 2, D(2023, 2, 28)),
        (2024, 11, D(2024, 11, 29)),  # half day after Thanksgiving is still a session
        (2023, 12, D(2023, 12, 29)),  # year end on a Friday
        (2021, 12, D(2021, 12, 31)),  # NYSE opens on Dec 31 2021 (New Year's Day on Saturday)
        (2024, 8, D(2024, 8, 30)),  # Saturday 31st
        (2001, 9, D(2001, 9, 28)),  # after the September 2001 closures
    ],
)
def test_last_session_of_month(year, month, last, xnys_sessions):
    assert calendar.last_session_of_month(year, month) == last
    if year >= 2011:
        in_month = xnys_sessions[(xnys_sessions.year == year) & (xnys_sessions.month == month)]
        assert in_month[-1].date() == last


def test_period_ends_between_month_and_quarter():
    monthly = calendar.period_ends_between(D(2024, 1, 1), D(2024, 6, 30), "monthly")
    assert monthly == [
        D(2024, 1, 31),
        D(2024, 2, 29),
        D(2024, 3, 28),
        D(2024, 4, 30),
        D(2024, 5, 31),
        D(2024, 6, 28),
    ]
    quarterly = calendar.period_ends_between(D(2023, 12, 29), D(2024, 12, 31), "quarterly")
    assert quarterly == [
        D(2023, 12, 29),
        D(2024, 3, 28),
        D(2024, 6, 28),
        D(2024, 9, 30),
        D(2024, 12, 31),
    ]
    # Both ends are inclusive; an empty range gives nothing.
    assert calendar.period_ends_between(D(2024, 3, 28), D(2024, 3, 28), "monthly") == [
        D(2024, 3, 28)
    ]
    assert calendar.period_ends_between(D(2024, 3, 29), D(2024, 4, 29), "monthly") == []


# --- period_end_before: a fund's base date -----------------------------------------------------


@pytest.mark.parametrize(
    ("day", "schedule", "expected"),
    [
        (D(2024, 3, 25), "quarterly", D(2023, 12, 29)),
        # On a period end: strictly before, so the previous one.
        (D(2024, 3, 28), "quarterly", D(2023, 12, 29)),
        (D(2023, 12, 29), "quarterly", D(2023, 9, 29)),
        # Good Friday and the weekend after it: the quarter just closed.
        (D(2024, 3, 29), "quarterly", D(2024, 3, 28)),
        (D(2024, 3, 31), "quarterly", D(2024, 3, 28)),
        (D(2024, 4, 1), "quarterly", D(2024, 3, 28)),
        # Year boundary.
        (D(2024, 1, 1), "quarterly", D(2023, 12, 29)),
        (D(2024, 1, 2), "quarterly", D(2023, 12, 29)),
        (D(2024, 1, 2), "monthly", D(2023, 12, 29)),
        (D(2023, 12, 29), "monthly", D(2023, 11, 30)),
        # Monthly.
        (D(2024, 3, 25), "monthly", D(2024, 2, 29)),
        (D(2024, 3, 28), "monthly", D(2024, 2, 29)),
        (D(2024, 3, 29), "monthly", D(2024, 3, 28)),
        (D(2024, 2, 29), "monthly", D(2024, 1, 31)),
        (D(2024, 3, 1), "monthly", D(2024, 2, 29)),
        # Memorial Day on the month's last day.
        (D(2021, 5, 31), "monthly", D(2021, 5, 28)),
        (D(2021, 5, 28), "monthly", D(2021, 4, 30)),
        (D(2021, 6, 1), "monthly", D(2021, 5, 28)),
    ],
)
def test_period_end_before(day, schedule, expected):
    assert calendar.period_end_before(day, schedule) == expected


def test_period_end_before_matches_exchange_calendars(xnys_sessions):
    """For every day of 2022-2025: the latest period-last-session strictly before the day."""
    monthly = _period_lasts(xnys_sessions, quarterly=False)
    quarterly = _period_lasts(xnys_sessions, quarterly=True)
    day = D(2022, 1, 1)
    while day <= D(2025, 12, 31):
        for schedule, ends in (("monthly", monthly), ("quarterly", quarterly)):
            expected = ends[bisect.bisect_left(ends, day) - 1]
            assert calendar.period_end_before(day, schedule) == expected, (day, schedule)
        day += dt.timedelta(days=1)


def test_period_ends_before_is_period_end_before_vectorized():
    every_day = pd.date_range("2019-12-01", "2026-01-15", freq="D")
    for schedule in ("monthly", "quarterly"):
        vectorized = calendar.period_ends_before(every_day, schedule)
        assert vectorized.dtype == np.dtype("datetime64[D]")
        one_by_one = [calendar.period_end_before(day.date(), schedule) for day in every_day]
        assert [value.astype(dt.date) for value in vectorized] == one_by_one
    # Unsorted plain dates work too; nothing in, nothing out.
    days = [D(2024, 3, 29), D(2024, 3, 28), D(2021, 6, 1)]
    assert calendar.period_ends_before(days, "monthly").tolist() == [
        D(2024, 3, 28),
        D(2024, 2, 29),
        D(2021, 5, 28),
    ]
    assert calendar.period_ends_before([], "quarterly").size == 0
    first, _ = calendar.calendar_range()
    with pytest.raises(InputError):
        calendar.period_ends_before([first, D(2024, 1, 2)], "monthly")
    with pytest.raises(InputError, match="outside the NYSE calendar"):
        calendar.period_ends_before([D(1999, 6, 1)], "monthly")


# --- sessions and the calendar's range ---------------------------------------------------------


def test_session_helpers_around_holidays():
    assert calendar.session_on_or_before(D(2024, 3, 29)) == D(2024, 3, 28)
    assert calendar.session_on_or_before(D(2024, 3, 28)) == D(2024, 3, 28)
    assert calendar.previous_session(D(2024, 4, 1)) == D(2024, 3, 28)
    assert calendar.next_session(D(2024, 3, 28)) == D(2024, 4, 1)
    assert calendar.next_session(D(2023, 12, 29)) == D(2024, 1, 2)
    assert calendar.count_sessions_after(D(2024, 3, 28), D(2024, 3, 28)) == 0
    assert calendar.count_sessions_after(D(2024, 3, 29), D(2024, 4, 1)) == 1
    # `until` before `as_of` is never negative.
    assert calendar.count_sessions_after(D(2024, 4, 5), D(2024, 4, 1)) == 0


def test_dates_outside_the_calendar_raise_input_error():
    first, last = calendar.calendar_range()
    before = first - dt.timedelta(days=1)
    after = last + dt.timedelta(days=400)
    for call in (
        lambda: calendar.quarter_end_status(before),
        lambda: calendar.quarter_end_status(after),
        lambda: calendar.period_end_before(after, "quarterly"),
        lambda: calendar.is_session(before),
        lambda: calendar.sessions_between(before, D(2024, 1, 2)),
        lambda: calendar.session_on_or_before(D(1990, 1, 2)),
    ):
        with pytest.raises(InputError, match="outside the NYSE calendar"):
            call()
    # The first quarter end of the calendar has no earlier period end to rebalance from.
    with pytest.raises(InputError):
        calendar.period_end_before(first, "monthly")


def test_calendar_covers_years_ahead():
    first, last = calendar.calendar_range()
    assert first <= D(2000, 1, 3)
    assert last.year >= dt.date.today().year + 2


# --- the flow calendar ---------------------------------------------------------------------------


def test_flow_calendar_period_ends_in_order():
    events = flow_calendar(D(2024, 3, 1), D(2024, 7, 5), ("month_end", "quarter_end"))
    assert [(e.date, e.kind) for e in events] == [
        (D(2024, 3, 28), "month_end"),
        (D(2024, 3, 28), "quarter_end"),
        (D(2024, 4, 30), "month_end"),
        (D(2024, 5, 31), "month_end"),
        (D(2024, 6, 28), "month_end"),
        (D(2024, 6, 28), "quarter_end"),
    ]
    q1 = events[1]
    assert (q1.window_start, q1.window_end, q1.sessions_left) == (
        D(2024, 3, 22),
        D(2024, 3, 28),
        19,
    )
    assert "2024Q1" in q1.name
    only_quarters = flow_calendar(D(2024, 3, 1), D(2024, 7, 5), ("quarter_end",))
    assert [e.date for e in only_quarters] == [D(2024, 3, 28), D(2024, 6, 28)]
