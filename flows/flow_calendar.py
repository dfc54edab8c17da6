"""The flow calendar: dated mechanical-flow events in order.

Pure: dates come from the NYSE calendar rules in `flows.event_rules` and `flows.buybacks`; the
month- and quarter-end trades are sized only from `PeriodEndSizing` computed elsewhere (market
data) and passed in, so the calendar itself never does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from flows import buybacks, calendar, event_rules
from flows.buybacks import KnownReports
from flows.errors import InputError
from flows.results import FlowEvent, PeriodEndSizing

EVENT_KINDS = (
    "month_end",
    "quarter_end",
    "opex",
    "quad_witching",
    "sp500_rebalance",
    "russell_reconstitution",
    "msci_review",
    "deribit_expiry",
    "buyback_blackout",
)
SIZED_KINDS = ("month_end", "quarter_end")
DIGEST_DAYS = 7
EXPIRY_TIMING = "open (AM-settled) and close"
NOT_SIZED = "unknown: not sized (no market data given)"
LATER_PERIOD = (
    "unknown: only the next {what} can be sized from the drift so far; later drift has "
    "not happened yet"
)
_BLACKOUT_NAMES = {
    # The rule of thumb puts every company in from this day, but real windows open over the
    # weeks around quarter end: no share is claimed at the opening.
    "opens": "{quarter} buyback blackout season opens: S&P 500 companies enter it from about "
    "two weeks before quarter end",
    "half_out": "{quarter} buyback blackout: about half of S&P 500 companies out (est. {share} "
    "still in)",
    "mostly_over": "{quarter} buyback blackout mostly over (est. {share} of S&P 500 companies "
    "still in)",
}


def validate_kinds(kinds: Iterable[str] | None) -> tuple[str, ...]:
    """The requested kinds in calendar order; InputError naming the known ones otherwise."""
    if kinds is None:
        return EVENT_KINDS
    if isinstance(kinds, str):
        kinds = [kinds]
    wanted = [kind.strip().lower() for kind in kinds]
    unknown = [kind for kind in wanted if kind not in EVENT_KINDS]
    if unknown:
        raise InputError(
            f"unknown event kind {unknown[0]!r}; known kinds: {', '.join(EVENT_KINDS)}"
        )
    return tuple(kind for kind in EVENT_KINDS if kind in wanted)


def flow_calendar(
    start: dt.date,
    end: dt.date,
    kinds: Iterable[str] | None = None,
    sizing: Sequence[PeriodEndSizing] | None = None,
    known_reports: KnownReports | None = None,
) -> list[FlowEvent]:
    """Events dated in [start, end]; `sessions_left` counts NYSE sessions after `start`.

    `sizing` sizes the month_end / quarter_end event whose date matches its `period_end`; every
    other event of those kinds says in `trade_basis` why its trade is unknown. `known_reports`
    (companies' earnings dates) dates the buyback-blackout milestones of the seasons it covers;
    the others follow the rule of thumb.
    """
    if end < start:
        return []
    events: list[FlowEvent] = []
    for kind in validate_kinds(kinds):
        if kind == "buyback_blackout":
            events.extend(_buyback_blackout(start, end, known_reports))
        else:
            events.extend(_BUILDERS[kind](start, end))
    events = [_with_sizing(event, sizing) for event in events]
    return sorted(events, key=lambda event: (event.date, event.kind))


def events_needing_heads_up(
    today: dt.date,
    kinds: Iterable[str] | None = None,
    sizing: Sequence[PeriodEndSizing] | None = None,
    known_reports: KnownReports | None = None,
) -> list[FlowEvent]:
    """Events whose previous NYSE session is `today`: the heads-up goes out the session before.

    Days up to and including the next session count, so an event on a day NYSE is shut (a
    Deribit expiry on Good Friday) is announced on the session before it too. Empty unless
    `today` is a session.
    """
    if not calendar.is_session(today):
        return []
    following = calendar.next_session(today)
    return flow_calendar(today + dt.timedelta(days=1), following, kinds, sizing, known_reports)


def weekly_digest(
    start: dt.date,
    kinds: Iterable[str] | None = None,
    sizing: Sequence[PeriodEndSizing] | None = None,
    days: int = DIGEST_DAYS,
    known_reports: KnownReports | None = None,
) -> list[FlowEvent]:
    """Events in the `days` calendar days from `start` (a week by default)."""
    end = start + dt.timedelta(days=days - 1)
    return flow_calendar(start, end, kinds, sizing, known_reports)


def _with_sizing(event: FlowEvent, sizing: Sequence[PeriodEndSizing] | None) -> FlowEvent:
    if event.kind not in SIZED_KINDS:
        return event
    matches = [s for s in sizing or () if s.kind == event.kind]
    match = next((s for s in matches if s.period_end == event.date), None)
    if match is not None:
        return event.model_copy(
            update={
                "trade_usd": match.trade_usd,
                "direction": match.direction,
                "trades_usd": match.trades_usd,
                "trade_basis": match.basis,
            }
        )
    if not matches:
        reason = NOT_SIZED
    elif any(s.period_end is not None and s.period_end < event.date for s in matches):
        reason = LATER_PERIOD.format(what=event.kind.replace("_", " "))
    else:
        reason = matches[0].basis
    return event.model_copy(update={"trade_basis": reason})


def _sessions_left(start: dt.date, day: dt.date) -> int:
    return calendar.count_sessions_after(start, day)


def _quarter_ends(start: dt.date, end: dt.date) -> list[FlowEvent]:
    return [
        FlowEvent(
            date=quarter_end.last_session,
            kind="quarter_end",
            name=f"{quarter_end.quarter} quarter end (rebalancing window "
            f"{quarter_end.window_start:%b %d} – {quarter_end.last_session:%b %d})",
            sessions_left=quarter_end.sessions_left,
            window_start=quarter_end.window_start,
            window_end=quarter_end.last_session,
            timing="at the close",
            source=event_rules.RULE_SOURCE,
            basis=f"rule: last NYSE session of the quarter; rebalancing window = its final "
            f"{calendar.REBALANCE_WINDOW_SESSIONS} sessions",
        )
        for quarter_end in calendar.upcoming_quarter_ends(start, end)
    ]


def _month_ends(start: dt.date, end: dt.date) -> list[FlowEvent]:
    return [
        FlowEvent(
            date=last,
            kind="month_end",
            name=f"{last:%B %Y} month end",
            sessions_left=_sessions_left(start, last),
            timing="at the close",
            source=event_rules.RULE_SOURCE,
            basis="rule: last NYSE session of the month (pension and balanced-fund rebalancing)",
        )
        for last in calendar.period_ends_between(start, end, "monthly")
    ]


def _monthly(
    kind: str,
    months: tuple[int, ...] | None,
    rule: Callable[[int, int], event_rules.RuleDate],
    name: Callable[[dt.date, int], str],
    timing: str,
) -> Callable[[dt.date, dt.date], list[FlowEvent]]:
    def build(start: dt.date, end: dt.date) -> list[FlowEvent]:
        events = []
        for year, month in event_rules.months_between(start, end):
            if months is not None and month not in months:
                continue
            dated = rule(year, month)
            if start <= dated.date <= end:
                events.append(
                    FlowEvent(
                        date=dated.date,
                        kind=kind,
                        name=name(dt.date(year, month, 1), month),
                        sessions_left=_sessions_left(start, dated.date),
                        timing=timing,
                        source=dated.source,
                        basis=dated.basis,
                    )
                )
        return events

    return build


def _opex_name(month_start: dt.date, month: int) -> str:
    quad = " (quad witching)" if month in event_rules.QUARTERLY_MONTHS else ""
    return f"{month_start:%B %Y} monthly options expiry{quad}"


def _deribit_name(month_start: dt.date, month: int) -> str:
    cycle = "quarterly" if month in event_rules.QUARTERLY_MONTHS else "monthly"
    return f"Deribit {cycle} BTC/ETH options and futures expiry ({month_start:%b %Y})"


def _russell(start: dt.date, end: dt.date) -> list[FlowEvent]:
    events = []
    for year in range(start.year, end.year + 1):
        dated = event_rules.russell_reconstitution(year)
        if start <= dated.date <= end:
            events.append(
                FlowEvent(
                    date=dated.date,
                    kind="russell_reconstitution",
                    name=f"Russell US indexes reconstitution ({year}, June)",
                    sessions_left=_sessions_left(start, dated.date),
                    timing="after the close",
                    source=dated.source,
                    basis=dated.basis,
                )
            )
    return events


_BLACKOUT_SOURCES = {
    "rule_of_thumb": "estimate (rule of thumb)",
    "earnings_dates": "estimate (earnings dates)",
}


def _buyback_blackout(
    start: dt.date, end: dt.date, known: KnownReports | None = None
) -> list[FlowEvent]:
    return [
        FlowEvent(
            date=milestone.date,
            kind="buyback_blackout",
            name=_BLACKOUT_NAMES[milestone.stage].format(
                quarter=milestone.quarter, share=f"{milestone.share:.0%}"
            ),
            sessions_left=_sessions_left(start, milestone.date),
            source=_BLACKOUT_SOURCES[milestone.method],
            basis=milestone.basis,
            blackout_share=None
            if milestone.stage == "opens" and milestone.method == "rule_of_thumb"
            else milestone.share,
        )
        for milestone in buybacks.blackout_milestones(start, end, known)
    ]


_BUILDERS: dict[str, Callable[[dt.date, dt.date], list[FlowEvent]]] = {
    "month_end": _month_ends,
    "quarter_end": _quarter_ends,
    "opex": _monthly("opex", None, event_rules.third_friday_expiry, _opex_name, EXPIRY_TIMING),
    "quad_witching": _monthly(
        "quad_witching",
        event_rules.QUARTERLY_MONTHS,
        event_rules.quad_witching,
        lambda month_start, _: f"{month_start:%B %Y} quad witching",
        EXPIRY_TIMING,
    ),
    "sp500_rebalance": _monthly(
        "sp500_rebalance",
        event_rules.QUARTERLY_MONTHS,
        event_rules.sp500_rebalance,
        lambda month_start, _: f"S&P 500 quarterly rebalance ({month_start:%b %Y})",
        "after the close",
    ),
    "msci_review": _monthly(
        "msci_review",
        event_rules.MSCI_REVIEW_MONTHS,
        event_rules.msci_review,
        lambda month_start, _: f"MSCI index review implemented ({month_start:%b %Y})",
        "at the close",
    ),
    "deribit_expiry": _monthly(
        "deribit_expiry", None, event_rules.deribit_expiry, _deribit_name, "08:00 UTC"
    ),
    "russell_reconstitution": _russell,
    "buyback_blackout": _buyback_blackout,
}
