"""Time windows in questions: the words ("Q4 2026", "the last week of June", "month-end") and the
NYSE sessions they stand for.

Reading the words needs no date; resolving them does, because a month or quarter named without a
year means the next one ending on or after `as_of`. Funds rebalance on NYSE sessions, so every
window resolves to NYSE sessions, crypto included.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from flows import calendar, freshness
from flows.errors import InputError

Unit = Literal["month", "quarter", "year"]
Relative = Literal["this", "next", "last"]
WindowKind = Literal["period", "final_sessions", "week", "day", "dates"]
Phrase = Literal["whole", "end", "last_week", "last_day", "last_n"]

PERIOD_END_SESSIONS = calendar.REBALANCE_WINDOW_SESSIONS
"""'The end of June' and 'month-end' mean the same final sessions as a quarter-end window."""

MONTHS: dict[str, int] = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sept": 9,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
MONTH_NAMES = tuple(dt.date(2000, month, 1).strftime("%B") for month in range(1, 13))
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3}
_ORDINALS |= {"fourth": 4, "4th": 4}
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_NUMBERS |= {"nine": 9, "ten": 10}
_RELATIVE: dict[str, Relative] = {
    "this": "this",
    "current": "this",
    "next": "next",
    "coming": "next",
    "upcoming": "next",
    "last": "last",
    "previous": "last",
    "prior": "last",
}
MAX_FINAL_SESSIONS = 30


@dataclass(frozen=True, slots=True)
class PeriodRef:
    """A month, quarter or year as written: numbered ("Q4", "June"), relative ("next quarter")
    or generic ("the quarter", which means the current one)."""

    unit: Unit
    number: int | None = None
    year: int | None = None
    relative: Relative | None = None

    @property
    def specific(self) -> bool:
        return self.number is not None or (self.unit == "year" and self.year is not None)


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """What the question says about time, before it is pinned to dates."""

    kind: WindowKind
    words: str
    phrase: Phrase = "whole"
    period: PeriodRef | None = None
    sessions: int | None = None
    relative: Literal["this", "next", "last", "today", "tomorrow"] | None = None
    dates: tuple[tuple[int | None, int, int], ...] = ()
    """(year or None, month, day) for explicit dates; a missing year means the next occurrence."""


@dataclass(frozen=True, slots=True)
class ResolvedWindow:
    start: dt.date
    end: dt.date
    sessions: tuple[dt.date, ...]
    label: str
    kind: WindowKind
    history_unit: Literal["month", "quarter"]
    """Which past period ends a volatility comparison should look at."""
    history_sessions: int
    """How many final sessions of each past period that comparison takes."""


# --- reading ------------------------------------------------------------------------------------

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR_OPT = r"(?:\s*(?:,|/|of)?\s*(?P<year>(?:19|20)\d{2}|'\d{2})\b)?"
_REL_RE = "|".join(_RELATIVE)

PeriodBuilder = Callable[[re.Match[str]], PeriodRef]


def _year(match: re.Match[str], group: str = "year") -> int | None:
    text = match.groupdict().get(group)
    if not text:
        return None
    return 2000 + int(text[1:]) if text.startswith("'") else int(text)


def _relative(match: re.Match[str]) -> Relative | None:
    word = match.groupdict().get("rel")
    return _RELATIVE[word] if word else None


def _two_digit_year(text: str | None) -> int | None:
    if not text:
        return None
    return int(text) if len(text) == 4 else 2000 + int(text)


_PERIODS: tuple[tuple[re.Pattern[str], PeriodBuilder, bool], ...] = tuple(
    (re.compile(pattern), builder, bare_ok)
    for pattern, builder, bare_ok in (
        (
            r"(?P<y4>(?:19|20)\d{2})\s?q(?P<q>[1-4])\b",
            lambda m: PeriodRef("quarter", int(m["q"]), int(m["y4"])),
            True,
        ),
        (
            r"q(?P<q>[1-4])\b" + _YEAR_OPT,
            lambda m: PeriodRef("quarter", int(m["q"]), _year(m)),
            True,
        ),
        (
            r"(?P<q>[1-4])q(?P<y2>(?:19|20)\d{2}|\d{2})?\b",
            lambda m: PeriodRef("quarter", int(m["q"]), _two_digit_year(m["y2"])),
            True,
        ),
        (
            r"(?:the\s)?(?P<qword>" + "|".join(_ORDINALS) + r")\squarter\b" + _YEAR_OPT,
            lambda m: PeriodRef("quarter", _ORDINALS[m["qword"]], _year(m)),
            True,
        ),
        (
            r"(?:the\s)?(?P<rel>" + _REL_RE + r")\s(?P<unit>quarter|month|year)\b(?:'s)?",
            lambda m: PeriodRef(m["unit"], relative=_relative(m)),
            True,
        ),
        (
            r"(?:the\s|this\s)?(?P<unit>quarter|month|year)\b(?:'s)?" + _YEAR_OPT,
            lambda m: PeriodRef(m["unit"], year=_year(m) if m["unit"] == "year" else None),
            False,
        ),
        (
            r"(?P<month>" + _MONTH_RE + r")\b\.?" + _YEAR_OPT,
            lambda m: PeriodRef("month", MONTHS[m["month"]], _year(m)),
            True,
        ),
        (
            r"(?P<year>(?:19|20)\d{2})\b",
            lambda m: PeriodRef("year", year=_year(m)),
            False,
        ),
    )
)


def _period_at(text: str, position: int, *, bare: bool) -> tuple[PeriodRef, int] | None:
    """The period written at `position`, and where its words end."""
    for pattern, builder, bare_ok in _PERIODS:
        if bare and not bare_ok:
            continue
        match = pattern.match(text, position)
        if match:
            return builder(match), match.end()
    return None


_FINAL_DAY = re.compile(
    r"\b(?:the\s)?(?:last|final|closing)\s(?:trading\s|business\s|market\s)?(?:day|session)"
    r"\s(?:of|in)\s"
)
_FINAL_SPAN = re.compile(
    r"\b(?:the\s)?(?:last|final|closing)\s(?:(?P<n>\d{1,2}|"
    + "|".join(_NUMBERS)
    + r")\s)?(?:trading\s|business\s)?(?P<what>weeks?|days|sessions)\s(?:of|in|before)\s"
    r"(?:the\send\sof\s)?"
)
_END_OF = re.compile(r"\b(?:the\s)?(?:end|close)\sof\s")
_PERIOD_END = re.compile(
    r"\b(?:(?P<rel>" + _REL_RE + r")\s)?(?:(?P<unit>quarter|month|year)|q(?P<q>[1-4])"
    r"|(?P<month>" + _MONTH_RE + r"))\s?end(?:s|ing)?\b"
)
_WEEK = re.compile(r"\b(?:the\s)?(?P<rel>this|next|last|coming|following)\sweek\b(?!\sof)")
_DAY = re.compile(
    r"\b(?P<word>today|tonight|tomorrow)\b|\b(?:the\s)?next\s(?:trading\s)?(?:session|day)\b"
)
_ISO_DATE = re.compile(r"\b(?P<y>(?:19|20)\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")
_US_DATE = re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>(?:19|20)\d{2})\b")
_MONTH_DAY = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r")\.?\s(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"
    r"(?:,?\s(?P<y>(?:19|20)\d{2})\b)?"
)
_DAY_MONTH = re.compile(
    r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s(?:of\s)?(?P<month>" + _MONTH_RE + r")\b"
    r"(?:,?\s(?P<y>(?:19|20)\d{2})\b)?"
)
_MAY_CONTEXT = re.compile(r"\b(?:in|during|for|of|through|until|by|before|after)\s$")


def read_window(text: str) -> WindowSpec | None:
    """The window a normalised (lower-case, single-spaced) question names, or None.

    More specific phrases win over bare periods: "the last trading day of Q2" is one session,
    not the quarter.
    """
    for reader in (_read_final_day, _read_final_span, _read_end_of, _read_dates, _read_relative):
        spec = reader(text)
        if spec is not None:
            return _specific(spec, text)
    return _read_bare_period(text)


def _specific(spec: WindowSpec, text: str) -> WindowSpec:
    """'The end of the quarter … in Q2 2024': a generic period borrows a specific one named
    elsewhere in the question."""
    if spec.period is None or spec.period.specific or spec.period.relative is not None:
        return spec
    bare = _read_bare_period(text, unit=spec.period.unit, specific_only=True)
    if bare is None or bare.period is None:
        return spec
    return replace(spec, period=bare.period, words=f"{spec.words} ({bare.words})")


def _read_final_day(text: str) -> WindowSpec | None:
    for match in _FINAL_DAY.finditer(text):
        found = _period_at(text, match.end(), bare=False)
        if found:
            period, end = found
            return WindowSpec(
                "final_sessions", text[match.start() : end], "last_day", period, sessions=1
            )
    return None


def _read_final_span(text: str) -> WindowSpec | None:
    for match in _FINAL_SPAN.finditer(text):
        found = _period_at(text, match.end(), bare=False)
        if not found:
            continue
        period, end = found
        count_text, what = match["n"], match["what"]
        count = None
        if count_text:
            count = int(count_text) if count_text.isdigit() else _NUMBERS[count_text]
        if what.startswith("week"):
            sessions = 5 * (count or 1)
            phrase: Phrase = "last_week" if sessions == 5 else "last_n"
        else:
            sessions = count or PERIOD_END_SESSIONS
            phrase = "last_n"
        sessions = max(1, min(sessions, MAX_FINAL_SESSIONS))
        return WindowSpec("final_sessions", text[match.start() : end], phrase, period, sessions)
    return None


def _read_end_of(text: str) -> WindowSpec | None:
    for match in _END_OF.finditer(text):
        found = _period_at(text, match.end(), bare=False)
        if found:
            period, end = found
            return WindowSpec(
                "final_sessions", text[match.start() : end], "end", period, PERIOD_END_SESSIONS
            )
    match = _PERIOD_END.search(text)
    if match is None:
        return None
    if match["q"]:
        period = PeriodRef("quarter", int(match["q"]))
    elif match["month"]:
        period = PeriodRef("month", MONTHS[match["month"]])
    else:
        period = PeriodRef(match["unit"], relative=_relative(match))
    return WindowSpec("final_sessions", match[0], "end", period, PERIOD_END_SESSIONS)


def _read_dates(text: str) -> WindowSpec | None:
    found: list[tuple[int, tuple[int | None, int, int], str]] = []
    for pattern in (_ISO_DATE, _US_DATE, _MONTH_DAY, _DAY_MONTH):
        for match in pattern.finditer(text):
            month = int(match["m"]) if "m" in match.groupdict() else MONTHS[match["month"]]
            year = int(match["y"]) if match["y"] else None
            found.append((match.start(), (year, month, int(match["d"])), match[0]))
    if not found:
        return None
    found.sort()
    dates = tuple(date for _, date, _ in found[:2])
    words = " – ".join(words for _, _, words in found[:2])
    return WindowSpec("dates", words, dates=dates)


def _read_relative(text: str) -> WindowSpec | None:
    match = _WEEK.search(text)
    if match:
        relative: Literal["this", "next", "last"] = (
            "this" if match["rel"] == "this" else "last" if match["rel"] == "last" else "next"
        )
        return WindowSpec("week", match[0], relative=relative)
    match = _DAY.search(text)
    if match:
        word = match["word"]
        relative = "today" if word in ("today", "tonight") else "tomorrow"
        return WindowSpec("day", match[0], relative=relative)
    return None


def _read_bare_period(
    text: str, unit: Unit | None = None, specific_only: bool = False
) -> WindowSpec | None:
    for word in re.finditer(r"\b[\w']", text):
        found = _period_at(text, word.start(), bare=True)
        if not found:
            continue
        period, end = found
        if unit is not None and period.unit != unit:
            continue
        if specific_only and not period.specific:
            continue
        words = text[word.start() : end]
        # "may" is far more often the verb: only "in May", "for May" etc. name the month.
        if (
            words.startswith("may")
            and period.year is None
            and not _MAY_CONTEXT.search(text[: word.start()])
        ):
            continue
        return WindowSpec("period", words, "whole", period)
    return None


# --- resolving ----------------------------------------------------------------------------------


def _month_last_day(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def _shift(year: int, index: int, step: int, per_year: int) -> tuple[int, int]:
    """(year, index) moved by `step` periods, with `per_year` periods in a year (index from 1)."""
    flat = year * per_year + index - 1 + step
    return flat // per_year, flat % per_year + 1


def _year_for(
    first: Callable[[int], dt.date], last: Callable[[int], dt.date], as_of: dt.date, past: bool
) -> int:
    """The year of a month or quarter named without one: the next ending on or after as-of, or
    for a question in the past tense ("did…") the latest already begun by as-of."""
    if past:
        return as_of.year if first(as_of.year) <= as_of else as_of.year - 1
    return as_of.year if last(as_of.year) >= as_of else as_of.year + 1


def period_bounds(
    period: PeriodRef, as_of: dt.date, past: bool = False
) -> tuple[dt.date, dt.date, str]:
    """First and last calendar day of the period, and its label (Q4 2026, June 2024, 2026)."""
    step = {"this": 0, "next": 1, "last": -1, None: 0}[period.relative]
    if period.unit == "year":
        year = period.year if period.year is not None else as_of.year + step
        return dt.date(year, 1, 1), dt.date(year, 12, 31), str(year)
    if period.unit == "quarter":
        if period.number is None:
            year, quarter = _shift(as_of.year, (as_of.month - 1) // 3 + 1, step, 4)
        else:
            quarter = period.number
            year = period.year or _year_for(
                lambda y: dt.date(y, quarter * 3 - 2, 1),
                lambda y: _month_last_day(y, quarter * 3),
                as_of,
                past,
            )
        first = dt.date(year, quarter * 3 - 2, 1)
        return first, _month_last_day(year, quarter * 3), f"Q{quarter} {year}"
    if period.number is None:
        year, month = _shift(as_of.year, as_of.month, step, 12)
    else:
        month = period.number
        year = period.year or _year_for(
            lambda y: dt.date(y, month, 1), lambda y: _month_last_day(y, month), as_of, past
        )
    return dt.date(year, month, 1), _month_last_day(year, month), f"{MONTH_NAMES[month - 1]} {year}"


def _history_unit(period: PeriodRef | None, last_day: dt.date) -> Literal["month", "quarter"]:
    if period is not None and period.unit == "month" and last_day.month % 3 != 0:
        return "month"
    return "quarter"


def _resolve_date(parts: tuple[int | None, int, int], near: dt.date, past: bool) -> dt.date:
    year, month, day = parts
    try:
        if year is not None:
            return dt.date(year, month, day)
        candidate = dt.date(near.year, month, day)
        if past:
            return candidate if candidate <= near else dt.date(near.year - 1, month, day)
        return candidate if candidate >= near else dt.date(near.year + 1, month, day)
    except ValueError:
        shown = f"{year}-{month:02d}-{day:02d}" if year else f"{month:02d}-{day:02d}"
        raise InputError(f"{shown} is not a calendar date") from None


def _sessions(start: dt.date, end: dt.date, label: str) -> tuple[dt.date, ...]:
    sessions = tuple(calendar.sessions_between(start, end))
    if not sessions:
        raise InputError(f"{label} has no NYSE session; institutional funds trade on sessions")
    return sessions


def resolve_window(
    spec: WindowSpec, as_of: dt.date, past: bool = False, *, any_day: bool = False
) -> ResolvedWindow:
    """Pin the words to NYSE sessions seen from `as_of`; InputError if that is impossible.

    `past`: the question is in the past tense, so a month, quarter or date named without a year
    is the latest one already begun rather than the next one. `any_day`: the question is about
    one day's flows (the ledger, dealer gamma), so "today" is the calendar day even when NYSE is
    closed (crypto trades; equities answer for their last session)."""
    if spec.kind in ("period", "final_sessions"):
        assert spec.period is not None
        first, last, name = period_bounds(spec.period, as_of, past)
        sessions = _sessions(first, last, name)
        if spec.kind == "period":
            return ResolvedWindow(
                sessions[0], sessions[-1], sessions, name, "period", "quarter", PERIOD_END_SESSIONS
            )
        count = spec.sessions or PERIOD_END_SESSIONS
        final = sessions[-count:]
        label = {
            "last_day": f"the last trading day of {name}",
            "last_week": f"the last week of {name}",
            "end": f"the end of {name}",
        }.get(spec.phrase, f"the last {len(final)} sessions of {name}")
        return ResolvedWindow(
            final[0],
            final[-1],
            final,
            label,
            "final_sessions",
            _history_unit(spec.period, last),
            len(final),
        )
    if spec.kind == "week":
        monday = as_of - dt.timedelta(days=as_of.weekday())
        monday += dt.timedelta(days=7 * {"next": 1, "last": -1}.get(spec.relative or "", 0))
        label = f"the week of {monday:%b %d %Y}"
        sessions = _sessions(monday, monday + dt.timedelta(days=4), label)
        return ResolvedWindow(
            sessions[0], sessions[-1], sessions, label, "week", "quarter", PERIOD_END_SESSIONS
        )
    if spec.kind == "day":
        if spec.relative == "today":
            # The as-of is the data's last day, which may be before today (a late bar, --as-of).
            is_today = as_of == freshness.today_utc()
            day, label = as_of, "today's session" if is_today else "the latest session"
            if not calendar.is_session(day):
                if any_day:
                    label = "today's trading" if is_today else "the latest day's trading"
                    return ResolvedWindow(day, day, (), label, "day", "quarter", 1)
                raise InputError(
                    f"today ({day:%a %Y-%m-%d}) has no NYSE session; institutional funds trade "
                    f"on sessions, the next is {calendar.next_session(day):%a %Y-%m-%d}"
                )
            sessions = (day,)
        else:
            day = calendar.next_session(as_of)
            label = "the next session"
            sessions = (day,)
        return ResolvedWindow(day, day, sessions, label, "day", "quarter", 1)
    start = _resolve_date(spec.dates[0], as_of, past)
    end = _resolve_date(spec.dates[-1], start, False) if len(spec.dates) > 1 else start
    start, end = min(start, end), max(start, end)
    label = start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
    sessions = _sessions(start, end, label)
    return ResolvedWindow(
        sessions[0], sessions[-1], sessions, label, "dates", "quarter", min(len(sessions), 5)
    )


DEFAULT_WINDOW = WindowSpec(
    "final_sessions", "", "end", PeriodRef("quarter", relative="this"), PERIOD_END_SESSIONS
)
"""No time named: the next quarter-end rebalancing window, the flow the product is built around."""
