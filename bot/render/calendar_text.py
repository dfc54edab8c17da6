"""Plain-text calendar for the CLI and the console."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.render.numbers import trade
from flows.results import CalendarEvent


def render_calendar_text(events: Sequence[CalendarEvent], start: dt.date, days: int) -> str:
    last = start + dt.timedelta(days=days - 1)
    lines = [f"Flow calendar {start} → {last} (NYSE sessions)"]
    if not events:
        lines.append("  no events in this range")
    for event in events:
        left = "" if event.sessions_left is None else f"  [{event.sessions_left} sessions]"
        sized = (
            "" if event.trade_usd is None else f"  est. {trade(event.trade_usd, event.direction)}"
        )
        lines.append(f"  {event.date:%a %Y-%m-%d}  {event.kind:<14} {event.name}{sized}{left}")
    return "\n".join(lines)
