"""`ReferenceCache`: slow-changing reference data fetched from providers — companies' earnings
dates and listed funds' AUM — kept so the bot and the CLI refetch them weekly or daily rather
than on every run. `Store.reference` is one; nothing outside `storage/` writes these tables.

Freshness is the caller's decision: every row says when it was fetched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import EarningsDate, FundAum

_EARNINGS = EarningsDate.__table__
_AUM = FundAum.__table__


@dataclass(frozen=True, slots=True)
class CachedDates:
    """A company's cached report dates (sorted) and when they were fetched."""

    dates: tuple[dt.date, ...]
    fetched_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CachedAum:
    """A fund's cached total assets, where the figure came from, and when it was fetched."""

    aum_usd: float
    source: str
    fetched_at: dt.datetime


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware UTC time")
    return moment


def _tickers(tickers: Iterable[str] | None) -> list[str] | None:
    return None if tickers is None else sorted({ticker.strip().upper() for ticker in tickers})


class ReferenceCache:
    """Async queries on the `earnings_dates` and `fund_aum` tables. Each method is one short
    transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ earnings dates

    async def earnings_dates(self, tickers: Iterable[str] | None = None) -> dict[str, CachedDates]:
        """Cached report dates by ticker (all tickers when `tickers` is None); tickers never
        fetched are absent."""
        wanted = _tickers(tickers)
        query = sa.select(_EARNINGS.c.ticker, _EARNINGS.c.report_date, _EARNINGS.c.fetched_at)
        if wanted is not None:
            if not wanted:
                return {}
            query = query.where(_EARNINGS.c.ticker.in_(wanted))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        dates: dict[str, list[dt.date]] = {}
        fetched: dict[str, dt.datetime] = {}
        for ticker, report_date, fetched_at in rows:
            dates.setdefault(ticker, []).append(report_date)
            # A refresh writes one time for all of a ticker's rows; the oldest is the safe age.
            fetched[ticker] = min(fetched.get(ticker, fetched_at), fetched_at)
        return {
            ticker: CachedDates(tuple(sorted(days)), fetched[ticker])
            for ticker, days in dates.items()
        }

    async def save_earnings_dates(
        self, dates: Mapping[str, Iterable[dt.date]], fetched_at: dt.datetime
    ) -> None:
        """Replace the cached dates of every ticker in `dates` (one transaction). A ticker
        mapped to no dates is left as it was: an empty answer is not news of no reports."""
        fetched_at = _aware(fetched_at)
        rows = [
            {"ticker": ticker.strip().upper(), "report_date": day, "fetched_at": fetched_at}
            for ticker, days in dates.items()
            for day in sorted(set(days))
        ]
        if not rows:
            return
        replaced = sorted({row["ticker"] for row in rows})
        async with self._engine.begin() as connection:
            await connection.execute(sa.delete(_EARNINGS).where(_EARNINGS.c.ticker.in_(replaced)))
            await connection.execute(sa.insert(_EARNINGS), rows)

    # ------------------------------------------------------------------ fund AUM

    async def fund_aum(self, tickers: Iterable[str] | None = None) -> dict[str, CachedAum]:
        """Cached AUM by ticker (all when `tickers` is None); tickers never fetched are absent."""
        wanted = _tickers(tickers)
        query = sa.select(_AUM.c.ticker, _AUM.c.aum_usd, _AUM.c.source, _AUM.c.fetched_at)
        if wanted is not None:
            if not wanted:
                return {}
            query = query.where(_AUM.c.ticker.in_(wanted))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {
            ticker: CachedAum(float(aum), source, fetched_at)
            for ticker, aum, source, fetched_at in rows
        }

    async def save_fund_aum(
        self, figures: Mapping[str, tuple[float, str]], fetched_at: dt.datetime
    ) -> None:
        """Store (aum_usd, source) per ticker, replacing what was cached for it."""
        fetched_at = _aware(fetched_at)
        rows = [
            {
                "ticker": ticker.strip().upper(),
                "aum_usd": float(aum),
                "source": source,
                "fetched_at": fetched_at,
            }
            for ticker, (aum, source) in figures.items()
        ]
        if not rows:
            return
        async with self._engine.begin() as connection:
            replaced = [row["ticker"] for row in rows]
            await connection.execute(sa.delete(_AUM).where(_AUM.c.ticker.in_(replaced)))
            await connection.execute(sa.insert(_AUM), rows)
