"""Date rules of scheduled flow events: expiries, index reviews, crypto expiries, NYSE close times.

Every date is computed from a rule on the NYSE calendar (`flows.calendar`, exchange_calendars
XNYS) rather than typed in per year. Where a provider announces its dates, the announced ones
are kept as data with their source and the rule is the fallback for any other year; a date that
is not announced is labelled "rule-based estimate".
"""

from __future__ import annotations

import calendar as stdlib_calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from flows import calendar
from flows.errors import InputError

FRIDAY = 4
QUARTERLY_MONTHS = (3, 6, 9, 12)
MSCI_REVIEW_MONTHS = (2, 5, 8, 11)
RUSSELL_MONTH = 6
DERIBIT_EXPIRY_TIME_UTC = dt.time(8, 0)

RULE_SOURCE = "rule (NYSE calendar from exchange_calendars XNYS)"
ESTIMATE_SOURCE = "rule-based estimate"


@dataclass(frozen=True, slots=True)
class RuleDate:
    """A dated event with how the date was derived (`basis`) and where it comes from (`source`)."""

    date: dt.date
    basis: str
    source: str


@dataclass(frozen=True, slots=True)
class AnnouncedDate:
    date: dt.date
    source: str


# Dates FTSE Russell published for the June reconstitution (effective after the close). Years not
# listed fall back to the rule. FTSE Russell adds a second yearly reconstitution from 2026: its
# January 2025 announcement named the second Friday of November, its February 2026 note speaks of
# December 2026, so that date is deliberately left out until it is confirmed here with a source.
RUSSELL_ANNOUNCED: dict[int, AnnouncedDate] = {
    2024: AnnouncedDate(
        dt.date(2024, 6, 28),
        "announced: FTSE Russell 2024 reconstitution schedule (press release 2024-03-01): "
        "final after the close on Friday June 28",
    ),
    2025: AnnouncedDate(
        dt.date(2025, 6, 27),
        "announced: FTSE Russell 2025 reconstitution, rebalanced after the close on June 27 "
        "(as reported by Investment Executive, June 2025)",
    ),
}


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based) `weekday` (Monday=0) of a month."""
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    day = first + dt.timedelta(days=offset + 7 * (n - 1))
    if day.month != month:
        raise ValueError(f"{year}-{month:02d} has no {n}th weekday {weekday}")
    return day


def last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = dt.date(year, month, stdlib_calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def months_between(start: dt.date, end: dt.date) -> Iterator[tuple[int, int]]:
    """Every (year, month) that overlaps [start, end]."""
    index, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    while index <= last:
        yield index // 12, index % 12 + 1
        index += 1


def session_on_or_after(day: dt.date) -> dt.date:
    return day if calendar.is_session(day) else calendar.next_session(day)


def _holiday_shifted(day: dt.date, what: str) -> tuple[dt.date, str]:
    """`day` if it is an NYSE session, else the session before, with a note of the shift."""
    session = calendar.session_on_or_before(day)
    if session == day:
        return day, ""
    return session, f"; {what} {day.isoformat()} is not an NYSE session → {session.isoformat()}"


def _third_friday(year: int, month: int, rule: str) -> RuleDate:
    """The third Friday of the month, or the session before it when NYSE is shut."""
    session, shift = _holiday_shifted(nth_weekday(year, month, FRIDAY, 3), "third Friday")
    return RuleDate(session, rule + shift, RULE_SOURCE)


def third_friday_expiry(year: int, month: int) -> RuleDate:
    """Monthly US equity options expiry: the third Friday, or the session before it."""
    return _third_friday(
        year,
        month,
        "rule: third Friday of the month; when it is not an NYSE session, the session before",
    )


def quad_witching(year: int, month: int) -> RuleDate:
    if month not in QUARTERLY_MONTHS:
        raise ValueError(f"quad witching is in Mar/Jun/Sep/Dec, not month {month}")
    return _third_friday(
        year,
        month,
        "rule: third-Friday expiry of Mar/Jun/Sep/Dec (stock and index options and futures); "
        "holiday → the session before",
    )


def sp500_rebalance(year: int, month: int) -> RuleDate:
    if month not in QUARTERLY_MONTHS:
        raise ValueError(f"the S&P 500 rebalances in Mar/Jun/Sep/Dec, not month {month}")
    return _third_friday(
        year,
        month,
        "rule: S&P 500 quarterly rebalance effective after the close of the third Friday of "
        "Mar/Jun/Sep/Dec; holiday → the session before",
    )


def msci_review(year: int, month: int) -> RuleDate:
    """MSCI quarterly/semi-annual index review: the close of the month's last business day."""
    if month not in MSCI_REVIEW_MONTHS:
        raise ValueError(f"MSCI reviews are in Feb/May/Aug/Nov, not month {month}")
    return RuleDate(
        calendar.last_session_of_month(year, month),
        "rule-based estimate: implemented at the close of the last business day of "
        "Feb/May/Aug/Nov, taken as the last NYSE session; MSCI announces the exact date with "
        "each review",
        ESTIMATE_SOURCE,
    )


def russell_reconstitution(year: int) -> RuleDate:
    """The June reconstitution: announced date if known, else the fourth Friday of June."""
    announced = RUSSELL_ANNOUNCED.get(year)
    if announced is not None:
        return RuleDate(
            announced.date,
            "announced by FTSE Russell: effective after the close",
            announced.source,
        )
    friday = nth_weekday(year, RUSSELL_MONTH, FRIDAY, 4)
    session, shift = _holiday_shifted(friday, "fourth Friday of June")
    semi_annual = "; June leg of the semi-annual schedule from 2026" if year >= 2026 else ""
    return RuleDate(
        session,
        "rule-based estimate: effective after the close of the fourth Friday of June"
        + shift
        + semi_annual,
        ESTIMATE_SOURCE,
    )


def deribit_expiry(year: int, month: int) -> RuleDate:
    """Deribit monthly/quarterly expiry: 08:00 UTC on the last Friday, US holidays or not."""
    friday = last_weekday(year, month, FRIDAY)
    note = "" if calendar.is_session(friday) else " (NYSE is closed that day; crypto is not)"
    return RuleDate(
        friday,
        "rule: 08:00 UTC on the last Friday of the month (quarterly in Mar/Jun/Sep/Dec); "
        "crypto does not observe US holidays" + note,
        "rule (Deribit expiry schedule)",
    )


@lru_cache(maxsize=1)
def _exchange_calendar():
    import exchange_calendars

    first, last = calendar.calendar_range()
    return exchange_calendars.get_calendar("XNYS", start=first.isoformat(), end=last.isoformat())


def close_time_utc(session: dt.date) -> dt.datetime:
    """The NYSE close of `session` in UTC, early closes (13:00 ET) included."""
    if not calendar.is_session(session):
        raise InputError(f"{session.isoformat()} is not an NYSE session")
    close = _exchange_calendar().session_close(session.isoformat())
    return close.to_pydatetime().astimezone(dt.UTC)


def minutes_before_close_utc(session: dt.date, minutes: int) -> dt.datetime:
    """When a pre-close check runs: `minutes` before the session's (possibly early) close."""
    return close_time_utc(session) - dt.timedelta(minutes=minutes)
