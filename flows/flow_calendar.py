"""The flow calendar: dated mechanical-flow events in order."""

from __future__ import annotations

import datetime as dt

from flows import calendar
from flows.results import CalendarEvent

EVENT_KINDS = ("quarter_end", "month_end")


def flow_calendar(
    start: dt.date, end: dt.date, kinds: tuple[str, ...] | None = None
) -> list[CalendarEvent]:
    """Events dated in [start, end]; `sessions_left` counts NYSE sessions after `start`."""
    wanted = set(kinds or EVENT_KINDS)
    events: list[CalendarEvent] = []
    quarter_lasts = set()
    if "quarter_end" in wanted:
        for quarter_end in calendar.upcoming_quarter_ends(start, end):
            quarter_lasts.add(quarter_end.last_session)
            events.append(
                CalendarEvent(
                    date=quarter_end.last_session,
                    kind="quarter_end",
                    name=f"{quarter_end.quarter} quarter end (rebalancing window "
                    f"{quarter_end.window_start:%b %d} – {quarter_end.last_session:%b %d})",
                    sessions_left=quarter_end.sessions_left,
                    window_start=quarter_end.window_start,
                    window_end=quarter_end.last_session,
                )
            )
    if "month_end" in wanted:
        for last in calendar.period_ends_between(start, end, "monthly"):
            events.append(
                CalendarEvent(
                    date=last,
                    kind="month_end",
                    name=f"{last:%B %Y} month end",
                    sessions_left=calendar.count_sessions_after(start, last),
                )
            )
    return sorted(events, key=lambda event: (event.date, event.kind))
