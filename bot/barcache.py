"""A bar source that keeps fetched history in storage so repeated ticks fetch only recent days."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.marketdata.base import BarSource

REFRESH_DAYS = 5
"""Recent bars are re-fetched: providers revise the last few days (late prints, adjustments)."""


class CachedBarSource:
    """Wraps a BarSource: history before the last few cached days comes from the store."""

    def __init__(self, source: BarSource, store) -> None:
        self.source = source
        self.store = store
        self.name = source.name
        self.is_sample = source.is_sample
        self.description = getattr(source, "description", source.name)

    async def fetch(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        coverage = await self.store.bar_coverage(self.name, symbol)
        if coverage is None or coverage.first > start or coverage.last < start:
            fresh = await self.source.fetch(symbol, start, end)
            await self.store.save_bars(self.name, symbol, fresh)
            return fresh
        refresh_from = max(start, coverage.last - dt.timedelta(days=REFRESH_DAYS))
        cached = await self.store.load_bars(
            self.name, symbol, start, refresh_from - dt.timedelta(days=1)
        )
        fresh = await self.source.fetch(symbol, refresh_from, end)
        await self.store.save_bars(self.name, symbol, fresh)
        combined = pd.concat([cached, fresh.loc[:, cached.columns.intersection(fresh.columns)]])
        return combined[~combined.index.duplicated(keep="last")].sort_index()

    async def latest_price(self, symbol: str) -> float | None:
        latest = getattr(self.source, "latest_price", None)
        return await latest(symbol) if latest is not None else None

    # Reference data is cached by `bot.reference` in its own tables; these only pass through.

    async def earnings_dates(self, ticker: str) -> list[dt.date]:
        return await self.source.earnings_dates(ticker)  # type: ignore[attr-defined]

    async def fund_aum(self, ticker: str) -> float | None:
        return await self.source.fund_aum(ticker)  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self.source.close()
