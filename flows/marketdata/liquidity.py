"""Fetching the liquidity yardstick series that `flows.liquidity` measures trades against.

Per source:
- CSV directory: `liquidity/SYMBOL.csv` (`date,traded_value_usd`, USD per day) wins when present;
  for SPY an `ES=F.csv` bar file (E-mini futures, volume in contracts) is combined with SPY.csv.
- live: `ES=F` daily bars from Yahoo for the S&P 500; for crypto, ccxt `fetch_ohlcv` daily candles
  on each exchange of a configurable list, base volume x close summed over the exchanges that
  answered (the basis names them). An exchange that fails is left out and named.
- sample: SAMPLE DATA stand-ins (the synthetic SPY dollar volume x 14, the rough ratio of E-mini
  notional plus SPY to SPY alone; the synthetic crypto volume as spot volume), labelled so.

Anything that cannot be had comes back as `flows.liquidity.unknown_series(reason)`: the
percentage is then unknown, never computed against a wrong measure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from flows.assets import Asset
from flows.errors import FlowsError
from flows.liquidity import (
    DEFAULT_SPOT_EXCHANGES,
    ES_FUTURES,
    TRADED_VALUE,
    kind_of,
    liquidity_key,
    missing_reason,
    sp500_traded_value,
    traded_value_series,
    unknown_series,
)
from flows.marketdata.base import MarketData

SAMPLE_SP500_MULTIPLE = 14.0
"""Sample data only: S&P 500 traded value as a multiple of SPY's dollar volume (2024 order of
magnitude: E-mini about $450bn a day against SPY's $30-35bn)."""
SPOT_TIMEOUT_MS = 10_000
SPOT_DAYS = 120
"""Live spot volume: only the recent days an average needs are fetched (one page each)."""

ExchangeFactory = Callable[[str], Any]
"""ccxt exchange id -> an async exchange instance (tests pass fakes or stand-in clients)."""


async def fetch_liquidity(
    market: MarketData,
    asset: Asset,
    start: dt.date,
    end: dt.date,
    spot_exchanges: Sequence[str] = DEFAULT_SPOT_EXCHANGES,
    exchange_factory: ExchangeFactory | None = None,
) -> dict[str, pd.DataFrame]:
    """`{liquidity_key(symbol): series}` to merge into a frames mapping; {} for an asset measured
    against its own volume."""
    kind = kind_of(asset)
    if kind == "own":
        return {}
    key = liquidity_key(asset.symbol)
    source = market.source
    directory = getattr(source, "directory", None)
    if isinstance(directory, Path):
        supplied = await asyncio.to_thread(read_liquidity_file, directory, asset.symbol)
        if supplied is not None:
            return {key: supplied}
    if source.is_sample:
        return {key: await _sample_series(market, asset, start, end)}
    if kind == "sp500":
        series = await _sp500(market, start, end)
        if series.empty and isinstance(directory, Path):
            series = unknown_series(missing_reason(asset))  # name the files that would do
        return {key: series}
    if kind == "crypto" and source.name == "live":
        return {
            key: await spot_traded_value(asset.symbol, start, end, spot_exchanges, exchange_factory)
        }
    return {key: unknown_series(missing_reason(asset))}


def read_liquidity_file(directory: Path, symbol: str) -> pd.DataFrame | None:
    """`liquidity/SYMBOL.csv` of a CSV directory; None when absent, an unknown series (with the
    reason) when unreadable."""
    path = directory / "liquidity" / f"{symbol.upper()}.csv"
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return unknown_series(f"{path} is unreadable: {str(exc).splitlines()[0]}")
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    if not {"date", TRADED_VALUE} <= set(frame.columns):
        return unknown_series(f"{path} lacks the header date,{TRADED_VALUE}")
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    values = pd.to_numeric(frame[TRADED_VALUE], errors="coerce")
    if dates.isna().any() or values.isna().any():
        return unknown_series(f"{path}: a date is not YYYY-MM-DD or a value is not a number")
    series = pd.Series(values.to_numpy(), index=pd.DatetimeIndex(dates))
    return traded_value_series(series, f"traded value from {path}")


async def _sp500(market: MarketData, start: dt.date, end: dt.date) -> pd.DataFrame:
    source = market.source
    try:
        futures = await source.fetch(ES_FUTURES, start, end)
        spy = await market.bars("SPY", start, end)
    except FlowsError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return unknown_series(f"S&P 500 traded value unknown: {detail}")
    if futures is None or futures.empty or "volume" not in futures:
        return unknown_series(f"S&P 500 traded value unknown: no {ES_FUTURES} bars")
    futures = futures.copy()
    futures.index = pd.DatetimeIndex(futures.index).normalize()
    return sp500_traded_value(futures, spy, source.name)


async def _sample_series(
    market: MarketData, asset: Asset, start: dt.date, end: dt.date
) -> pd.DataFrame:
    kind = kind_of(asset)
    if kind == "bond":
        return unknown_series(missing_reason(asset))
    bars = await market.bars(asset.symbol, start, end)
    dollar = bars["close"] * bars["volume"]
    if kind == "sp500":
        return traded_value_series(
            dollar * SAMPLE_SP500_MULTIPLE,
            f"SAMPLE DATA: synthetic S&P 500 traded value ({SAMPLE_SP500_MULTIPLE:g}x the "
            "synthetic SPY dollar volume)",
        )
    return traded_value_series(dollar, f"SAMPLE DATA: synthetic {asset.symbol} spot volume")


def _default_factory(exchange_id: str) -> Any:
    ccxt_async = importlib.import_module("ccxt.async_support")
    if exchange_id not in ccxt_async.exchanges:
        raise FlowsError(f"ccxt has no exchange {exchange_id!r}")
    return getattr(ccxt_async, exchange_id)({"enableRateLimit": True, "timeout": SPOT_TIMEOUT_MS})


async def spot_traded_value(
    symbol: str,
    start: dt.date,
    end: dt.date,
    exchanges: Sequence[str] = DEFAULT_SPOT_EXCHANGES,
    exchange_factory: ExchangeFactory | None = None,
) -> pd.DataFrame:
    """Daily spot traded value (USD) of `symbol` summed over `exchanges` (ccxt daily candles:
    base volume x close). Exchanges that fail are left out and named in the basis."""
    from flows.marketdata.live import crypto_market

    factory = exchange_factory or _default_factory
    since = max(start, end - dt.timedelta(days=SPOT_DAYS))

    async def one(exchange_id: str) -> pd.Series:
        exchange = None
        try:
            exchange = await asyncio.to_thread(factory, exchange_id)
            market = crypto_market(exchange_id, symbol)
            since_ms = int(dt.datetime.combine(since, dt.time(), dt.UTC).timestamp() * 1000)
            candles = await exchange.fetch_ohlcv(market, "1d", since=since_ms, limit=SPOT_DAYS + 5)
        finally:
            if exchange is not None and hasattr(exchange, "close"):
                await exchange.close()
        frame = pd.DataFrame(candles, columns=["ms", "open", "high", "low", "close", "volume"])
        index = pd.to_datetime(frame["ms"], unit="ms").dt.normalize()
        values = (frame["close"] * frame["volume"]).to_numpy()
        series = pd.Series(values, index=pd.DatetimeIndex(index), dtype="float64")
        # The candle of the current UTC day is still forming: never count it.
        return series[series.index <= pd.Timestamp(end)].loc[lambda s: ~s.index.duplicated()]

    results = await asyncio.gather(*(one(e) for e in exchanges), return_exceptions=True)
    answered: dict[str, pd.Series] = {}
    failed: list[str] = []
    for exchange_id, result in zip(exchanges, results, strict=True):
        if isinstance(result, BaseException) or result.empty:
            why = type(result).__name__ if isinstance(result, BaseException) else "no candles"
            failed.append(f"{exchange_id} ({why})")
        else:
            answered[exchange_id] = result
    if not answered:
        return unknown_series(
            f"{symbol} spot volume unknown: no exchange answered ({', '.join(failed)})"
        )
    # Sum only the days every answering exchange reported, so a missing day is not a dip.
    combined = pd.concat(answered.values(), axis=1, join="inner").sum(axis=1)
    left_out = f"; left out: {', '.join(failed)}" if failed else ""
    return traded_value_series(
        combined,
        f"{symbol} spot volume on {', '.join(answered)} (ccxt daily candles){left_out}",
    )
