"""The bar cache: daily bars fetched from live sources, kept so ticks refetch only what is new."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from storage._common import (
    _BARS,
    BAR_COLUMNS,
    StoreBase,
    _as_date,
)
from storage.models import (
    utcnow,
)


@dataclass(frozen=True, slots=True)
class BarCoverage:
    """What the bar cache holds for one (source, symbol)."""

    first: dt.date
    last: dt.date
    count: int
    fetched_at: dt.datetime
    """When the most recently fetched bar was written."""


class BarCacheMixin(StoreBase):
    """Cached daily bars per (source, symbol)."""

    async def load_bars(
        self, source: str, symbol: str, start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Cached bars from `start` to `end` inclusive: columns `BAR_COLUMNS` (float64), a
        DatetimeIndex named `date`, sorted. Empty (same columns) when nothing is cached."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(_BARS.c.date, *(_BARS.c[name] for name in BAR_COLUMNS))
                .where(
                    _BARS.c.source == source,
                    _BARS.c.symbol == symbol,
                    _BARS.c.date >= start,
                    _BARS.c.date <= end,
                )
                .order_by(_BARS.c.date)
            )
            records = rows.all()
        index = pd.DatetimeIndex(
            pd.to_datetime([row[0].isoformat() for row in records], format="%Y-%m-%d"),
            name="date",
        )
        return pd.DataFrame(
            [row[1:] for row in records], index=index, columns=list(BAR_COLUMNS), dtype="float64"
        )

    async def save_bars(
        self, source: str, symbol: str, frame: pd.DataFrame, *, now: dt.datetime | None = None
    ) -> int:
        """Upsert a frame of daily bars (index: dates; columns as `load_bars`, `adj_close`
        optional — defaults to `close`). Returns rows written."""
        if frame.empty:
            return 0
        missing = [name for name in BAR_COLUMNS[:-1] if name not in frame.columns]
        if missing:
            raise ValueError(f"bars of {symbol} lack column(s) {', '.join(missing)}")
        values = frame.copy()
        if "adj_close" not in values.columns:
            values["adj_close"] = values["close"]
        values = values[list(BAR_COLUMNS)].astype("float64")
        if values.isna().to_numpy().any():
            raise ValueError(f"bars of {symbol} contain missing values")
        index = pd.DatetimeIndex(values.index)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        dates = index.normalize()
        if dates.has_duplicates:
            raise ValueError(f"bars of {symbol} have duplicate dates")
        now = now or utcnow()
        rows = [
            {
                "source": source,
                "symbol": symbol,
                "date": day.date(),
                **dict(zip(BAR_COLUMNS, map(float, bar), strict=True)),
                "fetched_at": now,
            }
            for day, bar in zip(dates, values.itertuples(index=False, name=None), strict=True)
        ]
        statement = self._insert(_BARS)
        statement = statement.on_conflict_do_update(
            index_elements=["source", "symbol", "date"],
            set_={name: statement.excluded[name] for name in (*BAR_COLUMNS, "fetched_at")},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement, rows)
        return len(rows)

    async def bar_coverage(self, source: str, symbol: str) -> BarCoverage | None:
        """First and last cached date of a symbol, so a caller fetches only what is missing."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(
                    sa.func.min(_BARS.c.date),
                    sa.func.max(_BARS.c.date),
                    sa.func.count(),
                    sa.func.max(_BARS.c.fetched_at),
                ).where(_BARS.c.source == source, _BARS.c.symbol == symbol)
            )
            first, last, count, fetched_at = rows.one()
        if not count:
            return None
        return BarCoverage(
            first=_as_date(first), last=_as_date(last), count=int(count), fetched_at=fetched_at
        )
