"""Buyback blackout: the estimated share of S&P 500 companies that have paused buybacks.

Companies commonly stop discretionary buybacks from about two weeks before quarter end until
about two days after they report earnings. With each company's report date, the share in
blackout on a day is a count; without them (offline, tests) it follows from an assumed
distribution of report dates over the weeks after quarter end. Either way it is an estimate:
10b5-1 plans keep some buybacks running through a blackout, and policies differ by company.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flows import calendar
from flows.event_rules import session_on_or_after
from flows.results import BuybackBlackout

BLACKOUT_START_DAYS = 14
"""Blackout opens this many calendar days before quarter end."""
BLACKOUT_END_DAYS = 2
"""...and closes this many calendar days after the company's report."""

REPORT_WEEK_SHARES: tuple[float, ...] = (0.0, 0.03, 0.15, 0.30, 0.30, 0.14, 0.04, 0.04)
"""Assumed share of S&P 500 companies reporting in week k after quarter end (week 1 = days 1-7),
spread evenly over the days of the week. Shaped like a typical earnings season: a few early
reporters in week 2, the banks in week 3, the bulk in weeks 4-5, stragglers (retailers,
some large techs) to week 8. It is an assumption, not data."""

SEASON_DAYS = 7 * len(REPORT_WEEK_SHARES)
HALF_OUT_SHARE = 0.5
MOSTLY_OVER_SHARE = 0.1
_TOLERANCE = 1e-9

MIN_COVERAGE = 0.5
"""Earnings dates replace the rule of thumb for a season only when at least this share of the
companies they were sought for has a report date in it. With fewer, the count would say more
about which companies happen to be dated than about the season."""

RULE_BASIS = (
    f"estimate, rule of thumb: blackout from ~{BLACKOUT_START_DAYS} days before quarter end until "
    f"~{BLACKOUT_END_DAYS} days after each company reports; report dates assumed spread over "
    "weeks 2-8 after quarter end ("
    + "/".join(f"{share:.0%}" for share in REPORT_WEEK_SHARES[1:])
    + " per week); ignores 10b5-1 plans"
)


def quarter_end_day(year: int, quarter: int) -> dt.date:
    """The calendar last day of a quarter (blackout policies count calendar days)."""
    month = quarter * 3
    return dt.date(year, month, stdlib_calendar.monthrange(year, month)[1])


def reported_fraction(days_after_quarter_end: int) -> float:
    """Assumed fraction of companies that have reported on or before day `n` after quarter end."""
    if days_after_quarter_end <= 0:
        return 0.0
    total = 0.0
    for week, share in enumerate(REPORT_WEEK_SHARES):
        days_in_week = min(7, max(0, days_after_quarter_end - 7 * week))
        total += share * days_in_week / 7
    return min(1.0, total)


def _rule_share(days_after_quarter_end: int) -> float:
    """A company is out of blackout from BLACKOUT_END_DAYS after its report."""
    if days_after_quarter_end < -BLACKOUT_START_DAYS:
        return 0.0
    return max(0.0, 1.0 - reported_fraction(days_after_quarter_end - BLACKOUT_END_DAYS))


def _blocked_by_report(day: dt.date, reported: dt.date) -> bool:
    """Whether a company reporting on `reported` is in blackout on `day`: from two weeks before
    the end of the quarter it reports on (the last quarter end before the report)."""
    year, quarter = calendar.quarter_of(reported)
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    opens = quarter_end_day(year, quarter) - dt.timedelta(days=BLACKOUT_START_DAYS)
    return opens <= day < reported + dt.timedelta(days=BLACKOUT_END_DAYS)


def season_of(day: dt.date) -> tuple[int, int]:
    """The quarter whose earnings-season blackout `day` belongs to (or would, if outside one)."""
    year, quarter = calendar.quarter_of(day)
    if (quarter_end_day(year, quarter) - day).days <= BLACKOUT_START_DAYS:
        return year, quarter
    return (year - 1, 4) if quarter == 1 else (year, quarter - 1)


@dataclass(frozen=True, slots=True)
class KnownReports:
    """Every known report date per company, and what they cover (said in each basis)."""

    dates: Mapping[str, tuple[dt.date, ...]]
    """Company -> its known report dates, past and future, in any order."""
    companies: int
    """How many companies the dates were sought for: coverage is counted against this."""
    universe: str
    """What those companies are, e.g. "the 100 largest S&P 500 companies (…)"."""
    source: str
    """Where the dates come from, e.g. "Yahoo Finance earnings calendar, fetched 2026-11-18"."""

    def season(self, year: int, quarter: int) -> dict[str, dt.date]:
        return season_reports(self.dates, year, quarter)

    @property
    def minimum(self) -> int:
        """Companies a season needs dated before its dates replace the rule of thumb."""
        return max(1, math.ceil(MIN_COVERAGE * self.companies))


def season_window(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    """The report dates that belong to the earnings season of (year, quarter): after its quarter
    end, up to and including the next one — the quarter `_blocked_by_report` counts them
    against. A company on an off-cycle fiscal year (Nvidia, Oracle) lands in the season of the
    calendar quarter before its report."""
    start = quarter_end_day(year, quarter) + dt.timedelta(days=1)
    year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return start, quarter_end_day(year, quarter)


def season_reports(
    known: Mapping[str, Iterable[dt.date]], year: int, quarter: int
) -> dict[str, dt.date]:
    """Each company's report in the season of (year, quarter) — the earliest if it has several
    there; companies without one are left out (unknown, not counted)."""
    first, last = season_window(year, quarter)
    picked: dict[str, dt.date] = {}
    for company, dates in known.items():
        inside = [day for day in dates if first <= day <= last]
        if inside:
            picked[company] = min(inside)
    return picked


def pick_report_dates(day: dt.date, known: Mapping[str, Iterable[dt.date]]) -> dict[str, dt.date]:
    """The report date that matters on `day` for each company: its report in the season
    `season_of(day)`, so a day in a past season and one in the next both get theirs."""
    return season_reports(known, *season_of(day))


def _dates_basis(companies: int, known: KnownReports | None) -> str:
    counted = (
        f"{companies} of {known.universe}, from {known.source}"
        if known is not None
        else f"{companies} companies"
    )
    return (
        f"estimate from the earnings dates of {counted}: blackout from ~{BLACKOUT_START_DAYS} "
        f"days before quarter end until ~{BLACKOUT_END_DAYS} days after each report; "
        "ignores 10b5-1 plans"
    )


def _uncovered_basis(label: str, dated: int, known: KnownReports) -> str:
    return (
        f"{RULE_BASIS}; earnings dates for only {dated} of {known.universe} in the {label} "
        f"season, fewer than the {known.minimum} needed (from {known.source})"
    )


def blackout_for(day: dt.date, known: KnownReports | None) -> BuybackBlackout:
    """The blackout on `day` from known report dates when they cover its season, otherwise the
    rule of thumb (whose basis then says how few companies were dated)."""
    if known is None:
        return blackout_estimate(day)
    picked = pick_report_dates(day, known.dates)
    if len(picked) >= known.minimum:
        return blackout_estimate(day, picked, known=known)
    estimate = blackout_estimate(day)
    basis = _uncovered_basis(estimate.quarter or "", len(picked), known)
    return estimate.model_copy(update={"basis": basis})


def blackout_estimate(
    day: dt.date,
    report_dates: Mapping[str, dt.date] | None = None,
    *,
    known: KnownReports | None = None,
) -> BuybackBlackout:
    """Share of S&P 500 companies in buyback blackout on `day`.

    `report_dates` maps each company to a report date (e.g. from cached yfinance earnings
    dates: `pick_report_dates`); each date blocks the company from ~2 weeks before the end of
    the quarter it reports on. Without it the rule of thumb above is used. `known`, where the
    dates were picked from, names the companies and the dates' source in the basis.
    """
    year, quarter = season_of(day)
    quarter_end = quarter_end_day(year, quarter)
    label = calendar.quarter_label(year, quarter)
    if not report_dates:
        return BuybackBlackout(
            day=day,
            share=_rule_share((day - quarter_end).days),
            quarter=label,
            method="rule_of_thumb",
            companies=None,
            basis=RULE_BASIS,
        )
    blocked = sum(1 for reported in report_dates.values() if _blocked_by_report(day, reported))
    return BuybackBlackout(
        day=day,
        share=blocked / len(report_dates),
        quarter=label,
        method="earnings_dates",
        companies=len(report_dates),
        basis=_dates_basis(len(report_dates), known),
    )


@dataclass(frozen=True, slots=True)
class BlackoutMilestone:
    date: dt.date
    stage: str
    """opens | half_out | mostly_over"""
    share: float
    quarter: str
    method: str = "rule_of_thumb"
    """rule_of_thumb | earnings_dates"""
    basis: str = RULE_BASIS


def _first_day_at_or_below(share: float) -> int:
    for days_after in range(-BLACKOUT_START_DAYS, SEASON_DAYS + BLACKOUT_END_DAYS + 1):
        if _rule_share(days_after) <= share + _TOLERANCE:
            return days_after
    return SEASON_DAYS + BLACKOUT_END_DAYS


def _stages() -> tuple[tuple[str, float], ...]:
    return (("opens", 1.0), ("half_out", HALF_OUT_SHARE), ("mostly_over", MOSTLY_OVER_SHARE))


def _rule_milestones(
    year: int, quarter: int, start: dt.date, end: dt.date, basis: str
) -> list[BlackoutMilestone]:
    quarter_end = quarter_end_day(year, quarter)
    label = calendar.quarter_label(year, quarter)
    result = []
    for stage, share in _stages():
        offset = -BLACKOUT_START_DAYS if stage == "opens" else _first_day_at_or_below(share)
        day = session_on_or_after(quarter_end + dt.timedelta(days=offset))
        if start <= day <= end:
            share_then = _rule_share((day - quarter_end).days)
            result.append(BlackoutMilestone(day, stage, share_then, label, basis=basis))
    return result


def _dated_milestones(
    year: int,
    quarter: int,
    picked: Mapping[str, dt.date],
    start: dt.date,
    end: dt.date,
    basis: str,
) -> list[BlackoutMilestone]:
    """The same three milestones, counted from each company's report in the season."""
    opens = quarter_end_day(year, quarter) - dt.timedelta(days=BLACKOUT_START_DAYS)
    last = max(picked.values()) + dt.timedelta(days=BLACKOUT_END_DAYS)
    label = calendar.quarter_label(year, quarter)

    def share_on(day: dt.date) -> float:
        return sum(_blocked_by_report(day, report) for report in picked.values()) / len(picked)

    result = []
    for stage, threshold in _stages():
        day = opens
        while stage != "opens" and day < last and share_on(day) > threshold + _TOLERANCE:
            day += dt.timedelta(days=1)
        session = session_on_or_after(day)
        if start <= session <= end:
            result.append(
                BlackoutMilestone(session, stage, share_on(session), label, "earnings_dates", basis)
            )
    return result


def blackout_milestones(
    start: dt.date, end: dt.date, known: KnownReports | None = None
) -> list[BlackoutMilestone]:
    """Season milestones in [start, end], each on the NYSE session on or after it: the blackout
    opening, half the companies out again, and only ~10 % still in. From `known` report dates
    for a season they cover (see `KnownReports.minimum`), else from the rule of thumb."""
    result: list[BlackoutMilestone] = []
    year, quarter = season_of(start)
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    while quarter_end_day(year, quarter) - dt.timedelta(days=BLACKOUT_START_DAYS) <= end:
        picked = known.season(year, quarter) if known is not None else {}
        if known is not None and len(picked) >= known.minimum:
            basis = _dates_basis(len(picked), known)
            result += _dated_milestones(year, quarter, picked, start, end, basis)
        else:
            label = calendar.quarter_label(year, quarter)
            basis = _uncovered_basis(label, len(picked), known) if known is not None else RULE_BASIS
            result += _rule_milestones(year, quarter, start, end, basis)
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return result
