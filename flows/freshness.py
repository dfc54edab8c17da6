"""One freshness rule for every command that reads daily bars (status, the monitor tick, replay,
leveraged ETFs, the question engine, the calendar's period-end sizing).

- A **past** as-of (before yesterday, UTC) must be covered to its last session: each series has a
  bar on the as-of day itself (crypto: the UTC day) or on the last NYSE session on or before it
  (everything else). Anything less would silently price the day with an older close.
- A **recent** as-of (today or yesterday, UTC) may lag by `ALLOWANCE_DAYS` calendar days: the
  latest bar may not be out yet, and a long weekend (Friday → Tuesday) is four days.

What is stale says so in one line naming the symbol and its last bar (`stale_line`). Separately,
an answer whose data ends more than the allowance before today says so in its first line
(`DataLag.line`: "data ends Fri 2025-09-26 — 434 days ago").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, computed_field

from flows import calendar
from flows.assets import is_crypto
from flows.errors import InputError

ALLOWANCE_DAYS = 5
"""How many calendar days a recent as-of's data may lag (long weekends and a late bar fit)."""
RECENT_DAYS = 1
"""An as-of this many days before today (UTC), or later, counts as recent."""


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def future_as_of(as_of: dt.date | None, today: dt.date) -> str | None:
    """The one line for an as-of after today (UTC), or None when there is none."""
    if as_of is not None and as_of > today:
        return f"--as-of {as_of} is in the future; today is {today} (UTC)"
    return None


def check_not_future(as_of: dt.date | None, today: dt.date | None = None) -> None:
    """InputError when `as_of` is after today (UTC)."""
    problem = future_as_of(as_of, today or today_utc())
    if problem:
        raise InputError(problem)


def required_last_bar(symbol: str, as_of: dt.date) -> dt.date:
    """The bar a series must have to cover `as_of`: the UTC day for crypto, else the last NYSE
    session on or before it."""
    return as_of if is_crypto(symbol) else calendar.session_on_or_before(as_of)


def is_recent(as_of: dt.date, today: dt.date) -> bool:
    return as_of >= today - dt.timedelta(days=RECENT_DAYS)


def is_stale(symbol: str, last_bar: dt.date, as_of: dt.date, today: dt.date) -> bool:
    """Whether a series whose last bar is `last_bar` cannot be used for `as_of`."""
    if is_recent(as_of, today):
        return (as_of - last_bar).days > ALLOWANCE_DAYS
    return last_bar < required_last_bar(symbol, as_of)


def stale_line(symbol: str, last_bar: dt.date, as_of: dt.date, source: str | None = None) -> str:
    """The one line that says a series is stale: the symbol, its last bar, the as-of."""
    where = f" from {source}" if source else ""
    return f"{symbol} data{where} ends {last_bar}, before as-of {as_of}"


class StaleDataError(InputError):
    """A series does not reach the as-of. The message is `stale_line`; front ends add their own
    hint (the CLI: `--as-of`; chat cannot pass a date)."""

    def __init__(
        self, symbol: str, last_bar: dt.date, as_of: dt.date, source: str | None = None
    ) -> None:
        super().__init__(stale_line(symbol, last_bar, as_of, source))
        self.symbol = symbol
        self.last_bar = last_bar
        self.as_of = as_of


def check_fresh(
    last_bars: Mapping[str, dt.date],
    as_of: dt.date,
    today: dt.date | None = None,
    source: str | None = None,
) -> None:
    """StaleDataError for the first (by symbol) series that does not cover `as_of`."""
    today = today or today_utc()
    for symbol in sorted(last_bars):
        last = last_bars[symbol]
        if is_stale(symbol, last, as_of, today):
            raise StaleDataError(symbol, last, as_of, source)


def covered_through(symbol: str, last_bar: dt.date) -> dt.date:
    """The latest day a series ending on `last_bar` covers under the past rule: the bar's own
    day for crypto, the day before the next NYSE session for everything else."""
    if is_crypto(symbol):
        return last_bar
    return calendar.next_session(last_bar) - dt.timedelta(days=1)


def default_as_of(
    last_bars: Mapping[str, dt.date], anchor: str, today: dt.date | None = None
) -> dt.date:
    """The as-of of an answer that named none: the anchor's last bar when every series covers
    it, else the latest day every series covers (never later than the anchor's last bar)."""
    today = today or today_utc()
    as_of = last_bars[anchor]
    if not any(is_stale(s, last, as_of, today) for s, last in last_bars.items()):
        return as_of
    return min(as_of, *(covered_through(s, last) for s, last in last_bars.items()))


class DataLag(BaseModel):
    """How far the data behind an answer is from today; set only when it is more than the
    allowance (the answer then starts with `line`)."""

    model_config = ConfigDict(frozen=True)

    data_end: dt.date
    today: dt.date
    days_behind: int
    allowance_days: int = ALLOWANCE_DAYS
    limited_by: str | None = None
    """The series that ends first, when it set the as-of on another day ("SPY ends Fri
    2025-09-26" under a Sunday as-of for BTC)."""

    @computed_field
    @property
    def line(self) -> str:
        limited = f" ({self.limited_by})" if self.limited_by else ""
        return f"data ends {self.data_end:%a %Y-%m-%d}{limited} — {self.days_behind} days ago"


def data_lag(
    data_end: dt.date,
    today: dt.date | None = None,
    last_bars: Mapping[str, dt.date] | None = None,
    anchor: str | None = None,
) -> DataLag | None:
    """A DataLag when `data_end` is more than the allowance before today, else None. With the
    series' last bars, it names the one that ends first when that is before the `anchor`'s (or,
    without an anchor, before the latest) last bar."""
    today = today or today_utc()
    behind = (today - data_end).days
    if behind <= ALLOWANCE_DAYS:
        return None
    limited_by = None
    if last_bars:
        symbol = min(last_bars, key=lambda s: (last_bars[s], s))
        reference = last_bars[anchor] if anchor in last_bars else max(last_bars.values())
        if last_bars[symbol] < reference and last_bars[symbol] != data_end:
            limited_by = f"{symbol} ends {last_bars[symbol]:%a %Y-%m-%d}"
    return DataLag(data_end=data_end, today=today, days_behind=behind, limited_by=limited_by)
