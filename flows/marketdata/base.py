"""The bar-source interface, the checks every frame passes, and the once-per-run fetch cache."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from flows import calendar
from flows.assets import is_crypto
from flows.errors import MarketDataError

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
FRAME_COLUMNS = [*BAR_COLUMNS, "adj_close"]
_NS_PER_DAY = 86_400 * 10**9
"""Every frame a source returns has these columns plus `adj_close` (total-return close; equal to
`close` when the source has no adjusted series), indexed by a tz-naive daily DatetimeIndex named
`date`. For crypto a row is the UTC calendar day; for everything else an NYSE session."""


@runtime_checkable
class BarSource(Protocol):
    """Where daily bars come from."""

    name: str
    """Short id shown in every result's basis, e.g. `sample`, `csv:/data/market`, `live`."""
    is_sample: bool
    """True for synthetic data: every output built on it says SAMPLE DATA."""

    async def fetch(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars of `symbol` from `start` to `end` inclusive, as far as the source has them.

        Raises MarketDataError for anything that keeps the data from being trusted: no network,
        unknown symbol, exchange error, rate limit, an empty frame, a gap inside the range.
        """
        ...

    async def close(self) -> None:
        """Release connections (exchange sessions); safe to call twice."""
        ...


def validate_bars(
    frame: pd.DataFrame, symbol: str, source: str, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Normalise a raw frame to the contract above and reject anything partial or malformed."""
    if frame is None or frame.empty:
        raise MarketDataError(symbol, source, f"no bars between {start} and {end}")
    missing = [column for column in BAR_COLUMNS if column not in frame.columns]
    if missing:
        raise MarketDataError(symbol, source, f"missing column(s) {', '.join(missing)}")
    if list(frame.columns) != FRAME_COLUMNS or any(dtype != np.float64 for dtype in frame.dtypes):
        columns = [*BAR_COLUMNS, "adj_close" if "adj_close" in frame.columns else "close"]
        frame = frame[columns].astype("float64")
        frame.columns = FRAME_COLUMNS
    index = frame.index
    # Frames that already meet the contract (the cache, earlier validations) skip the rebuild:
    # a monitor tick validates every watched symbol's three years of bars.
    if not (
        isinstance(index, pd.DatetimeIndex)
        and index.tz is None
        and index.unit == "ns"
        and index.name == "date"
        and not (index.asi8 % _NS_PER_DAY).any()
    ):
        index = pd.DatetimeIndex(index)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        index = index.as_unit("ns")
        if (index.asi8 % _NS_PER_DAY).any():
            index = index.normalize()
        frame = frame.set_axis(index.rename("date"), axis=0)
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    first = frame.index.searchsorted(pd.Timestamp(start), side="left")
    last = frame.index.searchsorted(pd.Timestamp(end), side="right")
    if first > 0 or last < len(frame):
        frame = frame.iloc[first:last]
    if frame.empty:
        raise MarketDataError(symbol, source, f"no bars between {start} and {end}")
    if frame.index.has_duplicates:
        day = frame.index[frame.index.duplicated()][0].date()
        raise MarketDataError(symbol, source, f"duplicate bar for {day}")
    values = frame.to_numpy()
    prices = values[:, [0, 1, 2, 3, 5]]
    if np.isnan(values).any():
        day = frame.index[frame.isna().any(axis=1)][0].date()
        raise MarketDataError(symbol, source, f"missing value in the bar for {day}")
    if (prices <= 0).any():
        day = frame.index[(frame[["close", "adj_close"]] <= 0).any(axis=1)]
        where = f" on {day[0].date()}" if len(day) else ""
        raise MarketDataError(symbol, source, f"non-positive price{where}")
    _check_gaps(frame.index, symbol, source)
    return frame


def _check_gaps(index: pd.DatetimeIndex, symbol: str, source: str) -> None:
    days = index.values.astype("datetime64[D]")
    first, last = days[0], days[-1]
    if is_crypto(symbol):
        expected = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    else:
        expected = calendar.session_days(first.astype(dt.date), last.astype(dt.date))
    if np.array_equal(expected, days):
        return
    missing = np.setdiff1d(expected, days)
    if len(missing):
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise MarketDataError(
            symbol, source, f"gap in the data: no bar for {missing[0].astype(dt.date)}{more}"
        )


STALE_SEARCH_DAYS = 10 * 365
"""How far back a command with no as-of looks for the end of a series that stopped early."""


class MarketData:
    """Fetches through a BarSource, each (symbol, range) once per instance, concurrently."""

    def __init__(self, source: BarSource) -> None:
        self.source = source
        self._frames: dict[tuple[str, dt.date, dt.date], asyncio.Future[pd.DataFrame]] = {}
        self.fetch_count = 0

    @property
    def is_sample(self) -> bool:
        return self.source.is_sample

    async def bars(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        key = (symbol, start, end)
        future = self._frames.get(key)
        covering = None if future is not None else self._covering(symbol, start, end)
        if covering is not None:
            # A wider range already fetched holds these bars: slice it instead of refetching.
            return validate_bars(covering, symbol, self.source.name, start, end)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._frames[key] = future
            self.fetch_count += 1
            try:
                raw = await self.source.fetch(symbol, start, end)
                future.set_result(validate_bars(raw, symbol, self.source.name, start, end))
            except BaseException as exc:
                future.set_exception(exc)
                # Mark the exception retrieved: callers awaiting below re-raise it themselves.
                future.exception()
        return await asyncio.shield(future)

    def _covering(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame | None:
        for (cached, first, last), future in self._frames.items():
            if (
                cached == symbol
                and first <= start
                and last >= end
                and future.done()
                and not future.cancelled()
                and future.exception() is None
            ):
                return future.result()
        return None

    async def recent_bars(
        self, symbol: str, end: dt.date, days: int, *, older: bool
    ) -> pd.DataFrame:
        """The bars of the `days` calendar days to `end`. With `older` (no as-of was named) and
        none there, those of the `days` to the series' own last bar (looked for up to
        STALE_SEARCH_DAYS back), so the answer can be as of that bar and say how old it is."""
        return (await self.recent_bars_many([symbol], end, days, older=older))[symbol]

    async def recent_bars_many(
        self, symbols: Iterable[str], end: dt.date, days: int, *, older: bool
    ) -> dict[str, pd.DataFrame]:
        """`bars_many` over the `days` to `end`; with `older`, a series that stops before that
        window moves the window back to its last bar (see `recent_bars`)."""
        symbols = sorted(set(symbols))
        span = dt.timedelta(days=days)
        try:
            return await self.bars_many(symbols, end - span, end)
        except MarketDataError as exc:
            if not older or exc.symbol not in symbols:
                raise
            search = dt.timedelta(days=STALE_SEARCH_DAYS)
            try:
                stopped = await self.bars(exc.symbol, end - search, end)
            except MarketDataError:
                raise exc from None
            last = stopped.index[-1].date()
            return await self.bars_many(symbols, last - span, last)

    async def bars_many(
        self, symbols: list[str] | tuple[str, ...] | set[str], start: dt.date, end: dt.date
    ) -> dict[str, pd.DataFrame]:
        ordered = sorted(set(symbols))
        frames = await asyncio.gather(*(self.bars(s, start, end) for s in ordered))
        return dict(zip(ordered, frames, strict=True))

    async def close(self) -> None:
        await self.source.close()
