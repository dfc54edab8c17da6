"""Option chains from a CSV directory: `SYMBOL_options.csv` next to the `SYMBOL.csv` bars.

Header `as_of,expiry,strike,type,open_interest,implied_vol` plus an optional `multiplier`
(default 100 for equities, 1 for crypto). `type` is `call` or `put`, `implied_vol` a fraction,
dates YYYY-MM-DD. Several `as_of` days may share one file; a request uses the rows of its day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd

from flows.errors import MarketDataError
from flows.options.chain import OptionChain

HEADER = ("as_of", "expiry", "strike", "type", "open_interest", "implied_vol")
OPTIONAL = ("multiplier",)


class CsvChainSource:
    is_sample = False

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.name = f"csv:{self.directory}"

    def path(self, asset: str) -> Path:
        return self.directory / f"{asset.upper()}_options.csv"

    def _read(self, asset: str) -> pd.DataFrame:
        path = self.path(asset)
        if not path.is_file():
            raise MarketDataError(
                asset, self.name, f"no option chain for {asset.upper()}: no file {path.name}"
            )
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise MarketDataError(asset, self.name, f"{path.name} is empty") from None
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MarketDataError(asset, self.name, f"{path.name} is unreadable: {first}") from None
        frame.columns = [str(column).strip().lower() for column in frame.columns]
        missing = [column for column in HEADER if column not in frame.columns]
        if missing:
            raise MarketDataError(
                asset,
                self.name,
                f"{path.name} lacks column(s) {', '.join(missing)}; expected header "
                f"{','.join(HEADER)}[,multiplier]",
            )
        frame = frame[[c for c in (*HEADER, *OPTIONAL) if c in frame.columns]]
        for column in frame.columns:
            frame[column] = frame[column].str.strip()
        _check_rows(frame, path.name, asset, self.name)
        return frame

    async def chain(self, asset: str, as_of: dt.date | None) -> OptionChain:
        asset = asset.upper()
        frame = await asyncio.to_thread(self._read, asset)
        days = pd.to_datetime(frame["as_of"], format="%Y-%m-%d").dt.date
        if as_of is None:
            as_of = max(days)
        rows = frame[(days == as_of).to_numpy()]
        if rows.empty:
            listed = sorted(set(days))
            near = ", ".join(str(d) for d in listed[-3:])
            raise MarketDataError(
                asset,
                self.name,
                f"{self.path(asset).name} has no rows for {as_of} (latest days: {near})",
            )
        return OptionChain.from_frame(
            rows.drop(columns="as_of"),
            asset=asset,
            as_of=as_of,
            source=self.name,
            description=f"{self.path(asset).name} in {self.directory}, as of {as_of}",
        )

    async def close(self) -> None:
        return None


def _check_rows(frame: pd.DataFrame, filename: str, asset: str, source: str) -> None:
    """The first malformed row, by its line number in the file (header = line 1)."""

    def fail(index: int, what: str) -> None:
        raise MarketDataError(asset, source, f"{filename} line {index + 2}: {what}")

    for column in ("as_of", "expiry"):
        parsed = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
        if parsed.isna().any():
            fail(int(parsed.isna().to_numpy().argmax()), f"{column} is not YYYY-MM-DD")
    types = frame["type"].str.lower()
    bad = ~types.isin(["call", "put"])
    if bad.any():
        value = frame["type"][bad].iloc[0][:10]
        fail(int(bad.to_numpy().argmax()), f"type {value!r} is not call or put")
    for column in ("strike", "open_interest", "implied_vol", *(c for c in OPTIONAL if c in frame)):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna()
        if bad.any():
            fail(int(bad.to_numpy().argmax()), f"{column} is not a number")
        if column == "implied_vol" and (values < 0).any():
            index = int((values < 0).to_numpy().argmax())
            fail(index, f"implied_vol {values.iloc[index]:g} is negative")
        if column == "open_interest" and (values < 0).any():
            fail(int((values < 0).to_numpy().argmax()), "open_interest is negative")
        if column in ("strike", "multiplier") and (values <= 0).any():
            fail(int((values <= 0).to_numpy().argmax()), f"{column} must be positive")
