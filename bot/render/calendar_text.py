"""Plain-text calendar for the CLI and the console."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from bot.render.numbers import pct, trade
from bot.render.status_text import SAMPLE_BANNER
from flows.flow_calendar import NOT_SIZED
from flows.results import BuybackBlackout, CalendarEvent

SIZE_HINT = "pass --source live|sample|PATH to size the next month- and quarter-end trades"


def _most_common(values: list[str]) -> str | None:
    return Counter(values).most_common(1)[0][0] if values else None


def render_calendar_text(
    events: Sequence[CalendarEvent],
    start: dt.date,
    days: int,
    blackout: BuybackBlackout | None = None,
    sized: bool = True,
    sample: bool = False,
) -> str:
    last = start + dt.timedelta(days=days - 1)
    lines = [SAMPLE_BANNER, ""] if sample else []
    lines.append(f"Flow calendar {start} → {last} (NYSE sessions)")
    if blackout is not None:
        season = f"{blackout.quarter} earnings season, " if blackout.share > 0 else ""
        # Counted from dates, the share is of the sampled companies, not the whole index.
        whom = (
            f"{blackout.companies} large S&P 500 companies"
            if blackout.method == "earnings_dates"
            else "S&P 500 companies"
        )
        lines.append(
            f"Buyback blackout on {blackout.day}: est. {pct(blackout.share, 0)} of {whom} "
            f"({season}{blackout.method.replace('_', ' ')})"
        )
        if not any(event.basis == blackout.basis for event in events):
            lines.append(f"  basis: {blackout.basis}")
    lines.append("")
    if not events:
        lines.append("  no events in this range")

    kinds = list(dict.fromkeys(event.kind for event in events))
    # Each kind's usual date rule prints once at the end; an event whose rule differs (a holiday
    # shift, an announced date) prints its own under it.
    common = {
        kind: _most_common([e.basis for e in events if e.kind == kind and e.basis])
        for kind in kinds
    }
    trade_bases = [getattr(e, "trade_basis", None) for e in events if e.trade_usd is None]
    repeated = {basis for basis, n in Counter(trade_bases).items() if basis and n > 1}
    repeated |= {NOT_SIZED} & set(trade_bases)
    width = max((len(event.kind) for event in events), default=0)
    indent = " " * (2 + 14 + 2 + width + 2)
    for event in events:
        left = "" if event.sessions_left is None else f"  [{event.sessions_left} sessions]"
        sized_text = (
            "" if event.trade_usd is None else f"  est. {trade(event.trade_usd, event.direction)}"
        )
        timing = getattr(event, "timing", None)
        when = f" · {timing}" if timing else ""
        lines.append(
            f"  {event.date:%a %Y-%m-%d}  {event.kind:<{width}}  "
            f"{event.name}{when}{sized_text}{left}"
        )
        if event.basis and event.basis != common.get(event.kind):
            lines.append(f"{indent}date: {event.basis}")
        trade_basis = getattr(event, "trade_basis", None)
        if trade_basis and trade_basis not in repeated:
            lines.append(f"{indent}trade: {trade_basis}")

    notes = [f"  {kind}: {common[kind]}" for kind in kinds if common[kind]]
    for basis in sorted(repeated):
        # A CLI run without data gets the option to pass instead of a bare "not sized".
        text = SIZE_HINT if basis == NOT_SIZED and not sized else f"month/quarter ends: {basis}"
        notes.append(f"  {text}")
    if notes:
        lines += ["", "Basis:", *notes]
    if sample:
        lines += ["", SAMPLE_BANNER]
    return "\n".join(lines)
