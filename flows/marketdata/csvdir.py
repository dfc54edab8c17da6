"""A directory of `SYMBOL.csv` files: `date,open,high,low,close,volume[,adj_close]`."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd

from flows.errors import MarketDataError
from flows.marketdata.base import BAR_COLUMNS


class CsvDirectorySource:
    is_sample = False

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.name = f"csv:{self.directory}"

    def _path(self, symbol: str) -> Path:
        return self.directory / f"{symbol.upper()}.csv"

    def _read(self, symbol: str) -> pd.DataFrame:
        path = self._path(symbol)
        if not path.is_file():
            available = sorted(p.stem for p in self.directory.glob("*.csv"))
            hint = (
                f" (files here: {', '.join(available)})" if available else " (no .csv files here)"
            )
            raise MarketDataError(symbol, self.name, f"no file {path.name}{hint}")
        try:
            frame = pd.read_csv(path)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MarketDataError(
                symbol, self.name, f"{path.name} is unreadable: {first_line}"
            ) from None
        except pd.errors.EmptyDataError:
            raise MarketDataError(symbol, self.name, f"{path.name} is empty") from None
        frame.columns = [str(column).strip().lower() for column in frame.columns]
        missing = [column for column in ("date", *BAR_COLUMNS) if column not in frame.columns]
        if missing:
            raise MarketDataError(
                symbol,
                self.name,
                f"{path.name} lacks column(s) {', '.join(missing)}; "
                "expected header date,open,high,low,close,volume[,adj_close]",
            )
        dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
        if dates.isna().any():
            row = int(dates.isna().to_numpy().nonzero()[0][0]) + 2
            raise MarketDataError(
                symbol, self.name, f"{path.name} line {row}: date is not YYYY-MM-DD"
            )
        columns = [c for c in (*BAR_COLUMNS, "adj_close") if c in frame.columns]
        values = frame[columns].apply(pd.to_numeric, errors="coerce")
        bad_rows = values.isna().any(axis=1).to_numpy().nonzero()[0]
        if len(bad_rows):
            raise MarketDataError(
                symbol,
                self.name,
                f"{path.name} line {int(bad_rows[0]) + 2}: a value is not a number",
            )
        values.index = pd.DatetimeIndex(dates, name="date")
        # Files exported newest-first (or unordered) are fine; slicing by date needs order.
        return values.sort_index(kind="stable")

    async def fetch(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        frame = await asyncio.to_thread(self._read, symbol)
        return frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    async def close(self) -> None:
        return None
