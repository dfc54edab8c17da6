"""Positioning data from a CSV directory: `SYMBOL_derivs.csv` and `etf_flows.csv`.

`SYMBOL_derivs.csv`: `date,open_interest_usd,funding_rate,long_short_ratio` (the last two may be
empty). `etf_flows.csv`: `date,fund,asset,flow_usd` (USD net creations, + = inflow). Every
malformed row is reported with its file and line; nothing is read past it.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import math
from pathlib import Path

import pandas as pd

from flows.errors import MarketDataError
from flows.positioning.data import DERIVS_COLUMNS, ETF_FLOW_COLUMNS, empty_flows


def _number(text: str, *, optional: bool) -> float | None:
    text = text.strip()
    if not text:
        if optional:
            return None
        raise ValueError("empty")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


class CsvPositioningSource:
    is_sample = False
    flows_confidence = "measured"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.name = f"csv:{self.directory}"
        self.description = self.name
        self.notes: list[str] = []

    def flows_method(self, fund: str) -> str:
        return f"published daily flow as given in {self.directory / 'etf_flows.csv'}"

    def _rows(self, path: Path, header: tuple[str, ...], symbol: str) -> list[tuple[int, dict]]:
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                found = [c.strip().lower() for c in next(reader, [])]
                if tuple(found) != header:
                    raise MarketDataError(
                        symbol,
                        self.name,
                        f"{path.name} line 1: header must be {','.join(header)} "
                        f"(found {','.join(found) or 'nothing'})",
                    )
                rows = []
                for line, values in enumerate(reader, start=2):
                    if not values or all(not v.strip() for v in values):
                        continue
                    if len(values) != len(header):
                        raise MarketDataError(
                            symbol,
                            self.name,
                            f"{path.name} line {line}: expected {len(header)} fields, "
                            f"got {len(values)}",
                        )
                    rows.append((line, dict(zip(header, values, strict=True))))
                return rows
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise MarketDataError(symbol, self.name, f"{path.name} is unreadable: {exc}") from None

    @staticmethod
    def _date(path: Path, line: int, text: str, symbol: str, source: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            raise MarketDataError(
                symbol,
                source,
                f"{path.name} line {line}: date {text.strip()[:20]!r} is not YYYY-MM-DD",
            ) from None

    def _read_derivs(self, asset: str) -> pd.DataFrame:
        path = self.directory / f"{asset.upper()}_derivs.csv"
        if not path.is_file():
            raise MarketDataError(
                asset, self.name, f"no file {path.name} (derivatives history for {asset})"
            )
        records: dict[dt.date, tuple[float | None, ...]] = {}
        for line, row in self._rows(path, ("date", *DERIVS_COLUMNS), asset):
            day = self._date(path, line, row["date"], asset, self.name)
            try:
                oi = _number(row["open_interest_usd"], optional=False)
                funding = _number(row["funding_rate"], optional=True)
                ratio = _number(row["long_short_ratio"], optional=True)
            except ValueError:
                raise MarketDataError(
                    asset, self.name, f"{path.name} line {line}: a value is not a number"
                ) from None
            if (oi is not None and oi < 0) or (ratio is not None and ratio <= 0):
                raise MarketDataError(
                    asset,
                    self.name,
                    f"{path.name} line {line}: open interest must be ≥ 0 and "
                    "the long/short ratio > 0",
                )
            if day in records:
                raise MarketDataError(asset, self.name, f"{path.name} line {line}: {day} repeated")
            records[day] = (oi, funding, ratio)
        index = pd.DatetimeIndex(sorted(records), name="date")
        return pd.DataFrame(
            [records[d.date()] for d in index],
            index=index,
            columns=list(DERIVS_COLUMNS),
            dtype="float64",
        )

    def _read_flows(self, asset: str) -> pd.DataFrame:
        path = self.directory / "etf_flows.csv"
        if not path.is_file():
            # Derivatives without flows still classify the moves; the flows are unknown.
            note = f"no {path.name} in {self.directory}: ETF flows unknown"
            if note not in self.notes:
                self.notes.append(note)
            return empty_flows()
        rows = []
        seen: set[tuple[dt.date, str]] = set()
        for line, row in self._rows(path, ETF_FLOW_COLUMNS, asset):
            day = self._date(path, line, row["date"], asset, self.name)
            fund, row_asset = row["fund"].strip().upper(), row["asset"].strip().upper()
            if not fund or not row_asset:
                raise MarketDataError(
                    asset, self.name, f"{path.name} line {line}: fund and asset are required"
                )
            try:
                flow = _number(row["flow_usd"], optional=False)
            except ValueError:
                raise MarketDataError(
                    asset, self.name, f"{path.name} line {line}: flow_usd is not a number"
                ) from None
            if (day, fund) in seen:
                raise MarketDataError(
                    asset, self.name, f"{path.name} line {line}: {fund} on {day} repeated"
                )
            seen.add((day, fund))
            rows.append((pd.Timestamp(day), fund, row_asset, flow))
        frame = pd.DataFrame(rows, columns=list(ETF_FLOW_COLUMNS)) if rows else empty_flows()
        return frame

    async def derivatives(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        frame = await asyncio.to_thread(self._read_derivs, asset)
        return frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    async def etf_flows(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        from flows.positioning.data import etf_funds

        frame = await asyncio.to_thread(self._read_flows, asset)
        tickers = {f.ticker for f in etf_funds() if f.asset == asset.upper()}
        mask = (
            frame["fund"].isin(tickers)
            & (frame["date"] >= pd.Timestamp(start))
            & (frame["date"] <= pd.Timestamp(end))
        )
        return frame.loc[mask].reset_index(drop=True)

    async def close(self) -> None:
        return None
