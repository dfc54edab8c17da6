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
from collections.abc import Mapping
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


def blackout_estimate(
    day: dt.date, report_dates: Mapping[str, dt.date] | None = None
) -> BuybackBlackout:
    """Share of S&P 500 companies in buyback blackout on `day`.

    `report_dates` maps each company to a report date (e.g. from cached yfinance earnings
    dates; its next or latest); each date blocks the company from ~2 weeks before the end of
    the quarter it reports on. Without it the rule of thumb above is used.
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
        basis=f"estimate from {len(report_dates)} companies' earnings dates: blackout from "
        f"~{BLACKOUT_START_DAYS} days before quarter end until ~{BLACKOUT_END_DAYS} days after "
        "each report; ignores 10b5-1 plans",
    )


@dataclass(frozen=True, slots=True)
class BlackoutMilestone:
    date: dt.date
    stage: str
    """opens | half_out | mostly_over"""
    share: float
    quarter: str


def _first_day_at_or_below(share: float) -> int:
    for days_after in range(-BLACKOUT_START_DAYS, SEASON_DAYS + BLACKOUT_END_DAYS + 1):
        if _rule_share(days_after) <= share + _TOLERANCE:
            return days_after
    return SEASON_DAYS + BLACKOUT_END_DAYS


def blackout_milestones(start: dt.date, end: dt.date) -> list[BlackoutMilestone]:
    """Rule-of-thumb season milestones in [start, end], each on the NYSE session on or after it:
    the blackout opening, half the companies out again, and only ~10 % still in."""
    result: list[BlackoutMilestone] = []
    year, quarter = season_of(start)
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    while quarter_end_day(year, quarter) - dt.timedelta(days=BLACKOUT_START_DAYS) <= end:
        quarter_end = quarter_end_day(year, quarter)
        label = calendar.quarter_label(year, quarter)
        for stage, offset in (
            ("opens", -BLACKOUT_START_DAYS),
            ("half_out", _first_day_at_or_below(HALF_OUT_SHARE)),
            ("mostly_over", _first_day_at_or_below(MOSTLY_OVER_SHARE)),
        ):
            day = session_on_or_after(quarter_end + dt.timedelta(days=offset))
            if start <= day <= end:
                share = _rule_share((day - quarter_end).days)
                result.append(BlackoutMilestone(day, stage, share, label))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return result
