"""Live positioning data: perpetual-futures history through ccxt, ETF flows from Yahoo Finance.

Derivatives (`ccxt.async_support`, public endpoints, no API key): on the configured exchange's
USDⓈ-margined perpetual (`BTC/USDT:USDT`), daily
- open interest: `fetch_open_interest_history(symbol, "1d")`, in USD from `openInterestValue`,
  or `openInterestAmount` × the perpetual's daily close where the exchange reports coins only
  (Bybit);
- funding: `fetch_funding_rate_history`, the mean of the day's published (8-hourly) rates;
- long/short account ratio: `fetch_long_short_ratio_history(symbol, "1d")` where the exchange
  has it (`exchange.has["fetchLongShortRatioHistory"]`), else left empty.
ccxt 4.5 unifies all three on binanceusdm, okx and bybit. Exchanges keep limited history
(Binance: open-interest and long/short statistics for the latest 30 days only), so callers cache
every day fetched (`bot.positioning_cache`) and the history grows while the bot runs.

ETF flows: no free source publishes daily creations/redemptions in a documented, fetchable form
(the well-known free tables are web pages behind bot protection, not an API), so flows are
*derived*: flow(t) = (shares outstanding(t) − shares outstanding(previous session)) × close(t),
shares from yfinance `Ticker.get_shares_full` (Yahoo's daily shares-outstanding series; the last
figure of a day wins where Yahoo lists two) and the fund's closing price as a proxy for NAV. A
session without a share count for the day or the one before is unknown for that fund.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import itertools
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import pandas as pd

from flows import calendar
from flows.errors import MarketDataError
from flows.marketdata.live import (
    DEFAULT_RETRY_DELAYS,
    _epoch_ms,
    _ms_to_date,
    _rebase_urls,
    _utc_now,
    configure_yfinance,
    yahoo_ticker,
)
from flows.positioning.data import (
    DERIVS_COLUMNS,
    empty_derivs,
    empty_flows,
    etf_funds,
    has_derivatives,
)

T = TypeVar("T")

DEFAULT_DERIVATIVES_EXCHANGE = "binanceusdm"
DERIVATIVES_EXCHANGES = ("binanceusdm", "okx", "bybit")
PAGE_LIMITS = {"binanceusdm": 500, "okx": 100, "bybit": 200}
STATISTICS_DAYS = {"binanceusdm": 30}
"""Exchanges that keep open-interest and long/short statistics for only their latest N days: a
request reaching further back starts at the oldest day they keep."""
_DAY_MS = 86_400_000
_FUNDING_PAGE_DAYS = 100  # 8-hourly: 300 records per page

SharesFull = Callable[[str, dt.date, dt.date], pd.Series]
"""(Yahoo ticker, start, end exclusive) -> shares outstanding indexed by timestamp."""
Closes = Callable[[str, dt.date, dt.date], pd.Series]
"""(Yahoo ticker, start, end exclusive) -> daily closing prices."""


def perpetual_market(asset: str) -> str:
    return f"{asset.upper()}/USDT:USDT"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _yahoo_shares(ticker: str, start: dt.date, end_exclusive: dt.date) -> pd.Series:
    import yfinance as yf

    configure_yfinance(yf)
    shares = yf.Ticker(ticker).get_shares_full(
        start=start.isoformat(), end=end_exclusive.isoformat()
    )
    return shares if shares is not None else pd.Series(dtype="float64")


def _yahoo_closes(ticker: str, start: dt.date, end_exclusive: dt.date) -> pd.Series:
    import yfinance as yf

    configure_yfinance(yf)
    history = yf.Ticker(ticker).history(
        start=start.isoformat(), end=end_exclusive.isoformat(), auto_adjust=False, timeout=20
    )
    return history["Close"] if "Close" in history else pd.Series(dtype="float64")


def _daily_last(series: pd.Series) -> pd.Series:
    """One value per local date: the last listed (Yahoo sometimes lists two for one day)."""
    if series is None or series.empty:
        return pd.Series(dtype="float64")
    index = pd.DatetimeIndex(series.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    values = pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=index.normalize())
    values = values[values.notna() & (values > 0)]
    return values.groupby(level=0).last().sort_index()


class LivePositioningSource:
    """ccxt for perpetual-futures history, yfinance for ETF shares outstanding and closes."""

    name = "live"
    is_sample = False
    flows_confidence = "estimated"

    def __init__(
        self,
        exchange_id: str = DEFAULT_DERIVATIVES_EXCHANGE,
        *,
        exchange_factory: Callable[[], Any] | None = None,
        api_url_override: str | None = None,
        exchange_config: Mapping[str, Any] | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        shares_full: SharesFull | None = None,
        closes: Closes | None = None,
        yahoo_tickers: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """exchange_factory builds the ccxt exchange (default: `ccxt.async_support.<id>()`);
        tests may hand in a stand-in. api_url_override sends the exchange's REST calls to this
        scheme://host (paths kept; a local stand-in); exchange_config adds ccxt options.
        shares_full / closes replace the yfinance calls."""
        self.exchange_id = exchange_id.strip().lower()
        self.description = (
            f"live: {self.exchange_id} perpetuals via ccxt; ETF flows derived from Yahoo Finance "
            "shares outstanding × close"
        )
        self._exchange_factory = exchange_factory
        self._api_url_override = api_url_override
        self._exchange_config = dict(exchange_config or {})
        self._exchange: Any = None
        self._retry_delays = tuple(retry_delays)
        self._shares_full: SharesFull = shares_full or _yahoo_shares
        self._closes: Closes = closes or _yahoo_closes
        self._yahoo_tickers = dict(yahoo_tickers or {})
        self._clock = clock or _utc_now
        self.notes: list[str] = []
        """What the last fetches could not get (no long/short data, history cut short, a fund
        without share counts) — shown in the basis."""

    def flows_method(self, fund: str) -> str:
        return "derived: Δ shares outstanding (Yahoo Finance get_shares_full) × close (NAV proxy)"

    # ----- ccxt --------------------------------------------------------------------------

    async def _get_exchange(self, asset: str) -> Any:
        if self._exchange is None:
            if self._exchange_factory is not None:
                self._exchange = self._exchange_factory()
            else:
                ccxt_async = await asyncio.to_thread(importlib.import_module, "ccxt.async_support")
                if self.exchange_id not in ccxt_async.exchanges:
                    raise MarketDataError(
                        asset,
                        self.name,
                        f"ccxt has no exchange {self.exchange_id!r} "
                        f"(try {', '.join(DERIVATIVES_EXCHANGES)})",
                    )
                config = {"enableRateLimit": True, "timeout": 20_000, **self._exchange_config}
                exchange = getattr(ccxt_async, self.exchange_id)(config)
                if self._api_url_override:
                    exchange.urls["api"] = _rebase_urls(
                        exchange.urls["api"], self._api_url_override
                    )
                self._exchange = exchange
        return self._exchange

    async def _call(self, asset: str, what: str, call: Callable[[], Awaitable[T]]) -> T:
        import ccxt.async_support as ccxt_async

        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            try:
                return await call()
            except ccxt_async.NetworkError as exc:  # RateLimitExceeded, DDoSProtection, ...
                if attempt + 1 < attempts:
                    await asyncio.sleep(self._retry_delays[attempt])
                    continue
                raise MarketDataError(
                    asset,
                    self.name,
                    f"network error or rate limit at {self.exchange_id} "
                    f"fetching {what} ({attempts} attempts), try again later: "
                    f"{str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}",
                ) from exc
            except ccxt_async.BadSymbol as exc:
                raise MarketDataError(
                    asset,
                    self.name,
                    f"{self.exchange_id} has no perpetual {perpetual_market(asset)}",
                ) from exc
            except ccxt_async.BaseError as exc:
                raise MarketDataError(
                    asset,
                    self.name,
                    f"{self.exchange_id} {what} failed: "
                    f"{str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}",
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _paged(
        self,
        asset: str,
        what: str,
        fetch: Callable[[int], Awaitable[list[dict]]],
        since: int,
        stop_ms: int,
    ) -> list[dict]:
        """Pages from `since` forward until the exchange has nothing newer (or `stop_ms`)."""
        records: dict[int, dict] = {}
        while True:
            page = await self._call(asset, what, lambda since=since: fetch(since))
            stamped = [r for r in page or [] if r and r.get("timestamp") is not None]
            new = [r for r in stamped if int(r["timestamp"]) not in records]
            for record in new:
                records[int(record["timestamp"])] = record
            if not new:
                break
            last = max(int(r["timestamp"]) for r in new)
            if last >= stop_ms:
                break
            since = last + 1
        return [records[k] for k in sorted(records)]

    async def derivatives(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if not has_derivatives(asset):
            raise MarketDataError(asset, self.name, "no perpetual futures market mapped")
        exchange = await self._get_exchange(asset)
        market = perpetual_market(asset)
        today = self._clock().astimezone(dt.UTC).date()
        end = min(end, today)
        start_ms, stop_ms = _epoch_ms(start), _epoch_ms(end) + _DAY_MS - 1
        limit = PAGE_LIMITS.get(self.exchange_id, 100)
        await self._call(asset, "markets", exchange.load_markets)
        has = getattr(exchange, "has", {}) or {}
        if not has.get("fetchOpenInterestHistory"):
            raise MarketDataError(
                asset, self.name, f"{self.exchange_id} publishes no open-interest history"
            )

        kept = STATISTICS_DAYS.get(self.exchange_id)
        stats_ms = (
            max(start_ms, _epoch_ms(today - dt.timedelta(days=kept - 1))) if kept else start_ms
        )

        def oi_page(since: int) -> Awaitable[list[dict]]:
            return exchange.fetch_open_interest_history(market, "1d", since=since, limit=limit)

        oi_records = await self._paged(asset, "open-interest history", oi_page, stats_ms, stop_ms)
        oi: dict[dt.date, float] = {}
        coins: dict[dt.date, float] = {}
        for record in oi_records:
            day = _ms_to_date(int(record["timestamp"]))
            if not start <= day <= end:
                continue
            value = _number(record.get("openInterestValue"))
            if value is not None:
                oi[day] = value
            elif (amount := _number(record.get("openInterestAmount"))) is not None:
                coins[day] = amount
        if coins:
            closes = await self._perp_closes(asset, exchange, market, min(coins), end)
            for day, amount in coins.items():
                if day in closes:
                    oi[day] = amount * closes[day]
        if not oi:
            raise MarketDataError(
                asset,
                self.name,
                f"{self.exchange_id} returned no open interest for {market} "
                f"between {start} and {end}",
            )
        first = min(oi)
        if first > start + dt.timedelta(days=1):
            self.notes.append(
                f"{self.exchange_id} serves {asset} open-interest history only from {first} "
                f"(asked from {start}); earlier days come from the cache if it has them"
            )

        def funding_page(since: int) -> Awaitable[list[dict]]:
            return exchange.fetch_funding_rate_history(
                market, since=since, limit=3 * _FUNDING_PAGE_DAYS
            )

        funding: dict[dt.date, list[float]] = {}
        if has.get("fetchFundingRateHistory"):
            for record in await self._paged(
                asset, "funding history", funding_page, start_ms, stop_ms
            ):
                rate = _number(record.get("fundingRate"))
                day = _ms_to_date(int(record["timestamp"]))
                if rate is not None and start <= day <= end:
                    funding.setdefault(day, []).append(rate)
        else:
            self.notes.append(f"{self.exchange_id} publishes no funding-rate history")

        ratios: dict[dt.date, float] = {}
        if has.get("fetchLongShortRatioHistory"):

            def ratio_page(since: int) -> Awaitable[list[dict]]:
                return exchange.fetch_long_short_ratio_history(
                    market, "1d", since=since, limit=limit
                )

            pages = await self._paged(asset, "long/short ratio", ratio_page, stats_ms, stop_ms)
            for record in pages:
                ratio = _number(record.get("longShortRatio"))
                day = _ms_to_date(int(record["timestamp"]))
                if ratio is not None and ratio > 0 and start <= day <= end:
                    ratios[day] = ratio
        else:
            self.notes.append(f"{self.exchange_id} publishes no long/short ratio: left empty")

        index = pd.DatetimeIndex(sorted(oi), name="date")
        rows = [
            (
                oi[d.date()],
                sum(funding[d.date()]) / len(funding[d.date()]) if d.date() in funding else None,
                ratios.get(d.date()),
            )
            for d in index
        ]
        return pd.DataFrame(rows, index=index, columns=list(DERIVS_COLUMNS), dtype="float64")

    async def _perp_closes(
        self, asset: str, exchange: Any, market: str, start: dt.date, end: dt.date
    ) -> dict[dt.date, float]:
        candles = await self._call(
            asset,
            "perpetual candles",
            lambda: exchange.fetch_ohlcv(market, "1d", since=_epoch_ms(start), limit=500),
        )
        return {
            _ms_to_date(int(row[0])): float(row[4])
            for row in candles or []
            if row and row[0] is not None and _number(row[4])
        }

    # ----- ETF flows from Yahoo ----------------------------------------------------------

    async def etf_flows(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        funds = [f for f in etf_funds() if f.asset == asset.upper()]
        if not funds:
            return empty_flows()
        results = await asyncio.gather(
            *(self._fund_flows(fund.ticker, fund.asset, start, end) for fund in funds),
            return_exceptions=True,
        )
        frames = []
        for fund, result in zip(funds, results, strict=True):
            if isinstance(result, BaseException):
                self.notes.append(f"{fund.ticker}: no flows ({str(result).splitlines()[0][:100]})")
            elif not result.empty:
                frames.append(result)
        if not frames:
            return empty_flows()
        return pd.concat(frames, ignore_index=True)

    async def _fund_flows(
        self, ticker: str, asset: str, start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        yahoo = yahoo_ticker(ticker, self._yahoo_tickers)
        first = start - dt.timedelta(days=10)  # the session before `start` too
        stop = end + dt.timedelta(days=1)
        shares_raw, closes_raw = await asyncio.gather(
            asyncio.to_thread(self._shares_full, yahoo, first, stop),
            asyncio.to_thread(self._closes, yahoo, first, stop),
        )
        shares, closes = _daily_last(shares_raw), _daily_last(closes_raw)
        sessions = calendar.sessions_between(first, end)
        rows = []
        missing = 0
        for previous, session in itertools.pairwise(sessions):
            if session < start:
                continue
            now, before = pd.Timestamp(session), pd.Timestamp(previous)
            if now not in shares.index or before not in shares.index or now not in closes.index:
                missing += 1
                continue
            flow = (shares[now] - shares[before]) * closes[now]
            rows.append((now, ticker, asset, float(round(flow, 0))))
        if missing:
            self.notes.append(
                f"{ticker}: {missing} session(s) without a Yahoo share count (unknown, not zero)"
            )
        if not rows:
            return empty_flows()
        return pd.DataFrame(rows, columns=["date", "fund", "asset", "flow_usd"])

    async def close(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()


__all__ = ["DEFAULT_DERIVATIVES_EXCHANGE", "LivePositioningSource", "empty_derivs"]
