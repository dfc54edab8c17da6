"""Live daily bars: crypto from an exchange through ccxt, everything else from Yahoo Finance.

Crypto (`is_crypto`: BTC, ETH, SOL) comes from one ccxt exchange, `kraken` by default: a spot
exchange that serves OHLCV to US users without API keys. Each canonical symbol maps to a market on
that exchange (`CRYPTO_MARKETS`; USD quote unless the table says otherwise; override with
`crypto_markets=`). Candles are daily, stamped at UTC midnight, volume in coins. The candle of the
current UTC day is still forming and is never returned.

Everything else comes from Yahoo Finance through yfinance (`GSPC` -> `^GSPC`, `VIX` -> `^VIX`,
other symbols as they are), split-adjusted OHLC with `adj_close` from Yahoo's "Adj Close". Before
16:00 New York time the bar of the current session is still forming and is dropped.

History that starts after the requested start is accepted only when the market's history really
starts later (a coin listed after `start`). When the exchange simply does not serve that far back
(kraken serves only its latest 720 daily candles) the fetch fails with a message saying so, rather
than quietly returning a shorter history.

ccxt and yfinance are imported on first use: importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import math
import re
import socket
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pandas as pd

from flows.assets import is_crypto
from flows.errors import MarketDataError

T = TypeVar("T")

DEFAULT_CRYPTO_EXCHANGE = "kraken"
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0, 9.0)
"""Seconds to wait before each retry of a transient failure (network error, rate limit)."""

_USD = {"BTC": "BTC/USD", "ETH": "ETH/USD", "SOL": "SOL/USD"}
_USDT = {"BTC": "BTC/USDT", "ETH": "ETH/USDT", "SOL": "SOL/USDT"}
CRYPTO_MARKETS: dict[str, dict[str, str]] = {
    "kraken": _USD,
    "bitstamp": _USD,
    "coinbaseexchange": _USD,
    "coinbase": _USD,
    "gemini": _USD,
    "binanceus": _USD,
    "binance": _USDT,
    "bybit": _USDT,
    "okx": _USDT,
}
"""Canonical symbol -> market symbol per ccxt exchange id. Exchanges not listed get `SYMBOL/USD`."""

HISTORY_CAPS: dict[str, int] = {"kraken": 720}
"""Exchanges that serve only their latest N daily candles, whatever `since` asks for."""

LONG_HISTORY_EXCHANGES = ("bitstamp", "coinbaseexchange")
"""Suggested in errors when an exchange cannot go back far enough (US-accessible, no API keys)."""

YAHOO_TICKERS: dict[str, str] = {"GSPC": "^GSPC", "VIX": "^VIX"}
"""Canonical symbol -> Yahoo ticker where they differ (besides `.` -> `-`, as in BRK.B)."""

CRYPTO_MAX_STALENESS_DAYS = 2
"""A crypto series whose last bar is older than this before min(end, yesterday UTC) is stale."""
OTHER_MAX_STALENESS_DAYS = 5
"""Same for exchange-traded series (a long weekend fits), against min(end, yesterday New York)."""

NEW_YORK = ZoneInfo("America/New_York")
US_CLOSE = dt.time(16, 0)
_DAY_MS = 86_400_000
_DEFAULT_PAGE_LIMIT = 500
_YAHOO_CONCURRENCY = 4

YahooHistory = Callable[[str, dt.date, dt.date], pd.DataFrame]
"""(Yahoo ticker, start, end exclusive) -> yfinance's raw daily frame."""
YahooInfo = Callable[[str], Mapping[str, Any]]
YahooEarnings = Callable[[str], Any]
"""Yahoo ticker -> yfinance's earnings-dates frame (indexed by report time), or None."""

EARNINGS_DATES_LIMIT = 12
"""Rows asked of Yahoo's earnings calendar: the next reports and about two years back."""
EARNINGS_YEARS_BACK = 10
EARNINGS_YEARS_AHEAD = 2
"""Report dates outside this many years around today are not plausible: dropped as garbage."""


def crypto_market(exchange_id: str, symbol: str, overrides: Mapping[str, str] | None = None) -> str:
    """The market symbol of canonical `symbol` on ccxt exchange `exchange_id`."""
    symbol = symbol.upper()
    if overrides and symbol in overrides:
        return overrides[symbol]
    return CRYPTO_MARKETS.get(exchange_id, {}).get(symbol, f"{symbol}/USD")


def yahoo_ticker(symbol: str, overrides: Mapping[str, str] | None = None) -> str:
    """The Yahoo Finance ticker of canonical `symbol`."""
    symbol = symbol.upper()
    if overrides and symbol in overrides:
        return overrides[symbol]
    return YAHOO_TICKERS.get(symbol, symbol.replace(".", "-"))


LISTING_SUFFIXES = frozenset({"TO", "V", "NE", "CN", "L", "DE", "PA", "AS", "SW", "AX", "HK"})
"""Yahoo exchange suffixes a listed fund's ticker keeps as written (FBAL.TO)."""


def listed_yahoo_ticker(ticker: str, overrides: Mapping[str, str] | None = None) -> str:
    """The Yahoo ticker of a listed fund: as written when it has an exchange suffix Yahoo
    uses (FBAL.TO), else as `yahoo_ticker` spells a symbol."""
    head, _, suffix = ticker.strip().upper().rpartition(".")
    if head and suffix in LISTING_SUFFIXES:
        return f"{head}.{suffix}"
    return yahoo_ticker(ticker, overrides)


_RESOLVE_FAILURES = (
    "could not resolve host",
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "getaddrinfo failed",
    "no address associated with hostname",
    "dns lookup failed",
    "failed to resolve",
)


_RESOLVE_HOST = re.compile(r"resolve host:?[ \t]*([\w-]+(?:\.[\w-]+)+)", re.IGNORECASE)


def name_resolution_failure(exc: BaseException) -> str | None:
    """The host that could not be resolved when `exc` (or what caused it) is a DNS failure:
    the machine is offline or has no DNS, and retrying within this call cannot help."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        host = getattr(getattr(current, "_conn_key", None), "host", None)
        text = str(current).lower()
        if isinstance(current, socket.gaierror) or any(m in text for m in _RESOLVE_FAILURES):
            if host is None:
                match = _RESOLVE_HOST.search(str(current))
                host = match.group(1).rstrip(".") if match else None
            return host or "the data provider's host"
        pending += [current.__cause__, current.__context__]
        pending += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return None


YAHOO_HOST = "query2.finance.yahoo.com"


def offline_reason(host: str) -> str:
    """One line for a network that is down: not the provider's fault, and what to do instead."""
    return (
        f"no network: cannot resolve {host} (offline or no DNS); check the connection, or run "
        "with --source sample (synthetic data) or --source DIR (CSV files)"
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _rebase_url(url: str, base: str) -> str:
    """`url` with the scheme and host of `base`, keeping its path."""
    parts, target = urlsplit(url), urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


def _rebase_urls(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return _rebase_url(value, base)
    if isinstance(value, dict):
        return {key: _rebase_urls(item, base) for key, item in value.items()}
    return value


def configure_yfinance(yf: Any) -> None:
    """Make yfinance raise instead of logging and returning an empty frame (where supported)."""
    config = getattr(yf, "config", None)
    debug = getattr(config, "debug", None)
    if debug is not None:
        debug.hide_exceptions = False
    # yfinance turns its own DeprecationWarnings on at import (pandas 3 deprecations inside
    # yfinance that nobody here can act on); they would print through every CLI command.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"^yfinance")


def _yahoo_history(ticker: str, start: dt.date, end_exclusive: dt.date) -> pd.DataFrame:
    import yfinance as yf

    configure_yfinance(yf)
    return yf.Ticker(ticker).history(
        start=start.isoformat(),
        end=end_exclusive.isoformat(),
        interval="1d",
        auto_adjust=False,
        actions=False,
        timeout=20,
    )


def _yahoo_last_price(ticker: str) -> Any:
    import yfinance as yf

    configure_yfinance(yf)
    return yf.Ticker(ticker).fast_info["last_price"]


def _yahoo_info(ticker: str) -> Mapping[str, Any]:
    import yfinance as yf

    configure_yfinance(yf)
    return yf.Ticker(ticker).info


def _yahoo_earnings_dates(ticker: str) -> Any:
    import yfinance as yf

    configure_yfinance(yf)
    return yf.Ticker(ticker).get_earnings_dates(limit=EARNINGS_DATES_LIMIT)


_REAL_YAHOO_CALLS = (_yahoo_history, _yahoo_info, _yahoo_earnings_dates)
"""The yfinance calls as shipped: anything else (a test's fake, a patched module function)
brings its own transport and skips the up-front name check."""


class LiveSource:
    """Live daily bars: ccxt for crypto, yfinance for everything else.

    One ccxt exchange instance per source, created on the first crypto fetch and closed by
    `close()`. The keyword arguments after `crypto_markets` exist for tests and tuning: the
    production path is the same with or without them.
    """

    name = "live"
    is_sample = False

    def __init__(
        self,
        crypto_exchange: str = DEFAULT_CRYPTO_EXCHANGE,
        *,
        crypto_markets: Mapping[str, str] | None = None,
        yahoo_tickers: Mapping[str, str] | None = None,
        api_url_override: str | None = None,
        exchange_config: Mapping[str, Any] | None = None,
        page_limit: int | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        yf_history: YahooHistory | None = None,
        yf_info: YahooInfo | None = None,
        yf_earnings: YahooEarnings | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """
        crypto_exchange: a ccxt exchange id (`kraken`, `bitstamp`, `coinbaseexchange`, ...).
        crypto_markets: canonical symbol -> market symbol on that exchange, over `CRYPTO_MARKETS`.
        yahoo_tickers: canonical symbol -> Yahoo ticker, over `YAHOO_TICKERS`.
        api_url_override: send the exchange's REST calls to this scheme://host instead (paths
            kept) - for a local stand-in in tests.
        exchange_config: extra ccxt constructor options (e.g. `{"enableRateLimit": False}`).
        page_limit: candles asked per `fetch_ohlcv` call (default: the exchange's own maximum).
        retry_delays: seconds before each retry of a network error or rate limit.
        yf_history / yf_info / yf_earnings: the yfinance calls (defaults: `Ticker.history`,
            `Ticker.info` and `Ticker.get_earnings_dates`).
        clock: the current time, timezone-aware (default: now, UTC).
        """
        self.crypto_exchange = crypto_exchange.strip().lower()
        self.crypto_markets = dict(crypto_markets or {})
        self.yahoo_tickers = dict(yahoo_tickers or {})
        self.description = (
            f"live: {self.crypto_exchange} via ccxt (crypto), Yahoo Finance via yfinance (other)"
        )
        self._api_url_override = api_url_override
        self._exchange_config = dict(exchange_config or {})
        self._page_limit = page_limit
        self._retry_delays = tuple(retry_delays)
        self._yf_history: YahooHistory = yf_history or _yahoo_history
        self._yf_info: YahooInfo = yf_info or _yahoo_info
        self._yf_earnings: YahooEarnings = yf_earnings or _yahoo_earnings_dates
        self._clock = clock or _utc_now
        self._exchange: Any = None
        self._yahoo_slots = asyncio.Semaphore(_YAHOO_CONCURRENCY)
        self.offline: str | None = None
        """Set on the first name-resolution failure: every later call fails at once with it."""
        self._resolved: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"LiveSource(crypto_exchange={self.crypto_exchange!r})"

    async def __aenter__(self) -> LiveSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _went_offline(self, exc: BaseException) -> str | None:
        host = name_resolution_failure(exc)
        if host is not None and self.offline is None:
            self.offline = offline_reason(host)
        return self.offline if host is not None else None

    async def fetch(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if start > end:
            raise MarketDataError(symbol, self.name, f"start {start} is after end {end}")
        if self.offline:
            raise MarketDataError(symbol, self.name, self.offline)
        if is_crypto(symbol):
            return await self._fetch_crypto(symbol, start, end)
        return await self._fetch_yahoo(symbol, start, end)

    async def close(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()

    async def fund_aum(self, ticker: str) -> float | None:
        """A fund's total assets (USD) from Yahoo's `info["totalAssets"]`; None on any failure."""
        try:
            await self._check_yahoo_resolves(ticker, self._yf_info is not _REAL_YAHOO_CALLS[1])
            async with self._yahoo_slots:
                info = await asyncio.to_thread(
                    self._yf_info, yahoo_ticker(ticker, self.yahoo_tickers)
                )
            value = info.get("totalAssets")
        except Exception as exc:
            self._went_offline(exc)
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        value = float(value)
        return value if math.isfinite(value) and value > 0 else None

    async def fund_assets(self, ticker: str) -> tuple[float, str]:
        """A listed fund's total assets and their currency from Yahoo's `info` (`totalAssets`,
        `currency`); `ticker` keeps its exchange suffix (FBAL.TO). Raises MarketDataError."""
        yahoo = listed_yahoo_ticker(ticker, self.yahoo_tickers)
        try:
            async with self._yahoo_slots:
                info = await asyncio.to_thread(self._yf_info, yahoo)
        except Exception as exc:
            raise MarketDataError(ticker, self.name, _yahoo_failure(yahoo, exc)[1]) from exc
        value = info.get("totalAssets")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MarketDataError(ticker, self.name, f"no totalAssets for {yahoo} on Yahoo")
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise MarketDataError(ticker, self.name, f"totalAssets of {yahoo} is {value!r}")
        currency = info.get("currency")
        return value, (currency.upper() if isinstance(currency, str) and currency else "USD")

    async def usd_per(self, currency: str) -> float:
        """The day's rate of one unit of `currency` in USD from Yahoo (`CADUSD=X`); raises
        MarketDataError when Yahoo has none."""
        currency = currency.upper()
        if currency == "USD":
            return 1.0
        pair = f"{currency}USD=X"
        try:
            async with self._yahoo_slots:
                info = await asyncio.to_thread(self._yf_info, pair)
        except Exception as exc:
            raise MarketDataError(pair, self.name, _yahoo_failure(pair, exc)[1]) from exc
        for key in ("regularMarketPrice", "previousClose"):
            value = info.get(key)
            usable = isinstance(value, int | float) and not isinstance(value, bool)
            if usable and math.isfinite(value) and value > 0:
                return float(value)
        raise MarketDataError(pair, self.name, f"no exchange rate for {pair} on Yahoo")

    async def earnings_dates(self, ticker: str) -> list[dt.date]:
        """A company's report dates, past and upcoming, sorted, from Yahoo's earnings calendar
        (upcoming ones may be Yahoo's own estimates until the company confirms them).

        Raises MarketDataError when Yahoo fails or lists no plausible date.
        """
        yahoo = yahoo_ticker(ticker, self.yahoo_tickers)
        await self._check_yahoo_resolves(ticker, self._yf_earnings is not _REAL_YAHOO_CALLS[2])
        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            try:
                async with self._yahoo_slots:
                    raw = await asyncio.to_thread(self._yf_earnings, yahoo)
                break
            except Exception as exc:
                if offline := self._went_offline(exc):
                    raise MarketDataError(ticker, self.name, offline) from exc
                reason = _yahoo_failure(yahoo, exc)[1]
                # Only a rate limit is worth waiting for: a network error fails at once, since
                # the callers fall back to their cache and a weekly refresh tries again.
                if _is_rate_limit(exc) and attempt + 1 < attempts:
                    await asyncio.sleep(self._retry_delays[attempt])
                    continue
                raise MarketDataError(ticker, self.name, f"{reason} (earnings dates)") from exc
        today = self._clock().astimezone(NEW_YORK).date()
        dates = [
            day
            for day in _report_dates(raw)
            if today.year - EARNINGS_YEARS_BACK <= day.year <= today.year + EARNINGS_YEARS_AHEAD
        ]
        if not dates:
            raise MarketDataError(
                ticker,
                self.name,
                f"Yahoo Finance lists no earnings dates for {yahoo} (not a listed company, or "
                "Yahoo failed without saying so)",
            )
        return dates

    async def latest_price(self, symbol: str) -> float | None:
        """The last traded price now (intraday), for estimates "so far" before the close;
        None when the provider does not say."""
        try:
            if is_crypto(symbol):
                exchange = await self._get_exchange(symbol)
                market = crypto_market(self.crypto_exchange, symbol, self.crypto_markets)
                ticker = await self._ccxt_call(symbol, lambda: exchange.fetch_ticker(market))
                value = ticker.get("last")
            else:
                async with self._yahoo_slots:
                    value = await asyncio.to_thread(
                        _yahoo_last_price, yahoo_ticker(symbol, self.yahoo_tickers)
                    )
        except Exception:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) and value > 0 else None

    # ----- crypto through ccxt -------------------------------------------------------------

    async def _get_exchange(self, symbol: str) -> Any:
        if self._exchange is None:
            # The first import takes about a second: keep it off the shared event loop.
            ccxt_async = await asyncio.to_thread(importlib.import_module, "ccxt.async_support")
            if self._exchange is not None:  # another fetch created it meanwhile
                return self._exchange
            if self.crypto_exchange not in ccxt_async.exchanges:
                raise MarketDataError(
                    symbol,
                    self.name,
                    f"ccxt has no exchange {self.crypto_exchange!r} "
                    f"(try {DEFAULT_CRYPTO_EXCHANGE}, {', '.join(LONG_HISTORY_EXCHANGES)})",
                )
            config = {"enableRateLimit": True, "timeout": 20_000, **self._exchange_config}
            exchange = getattr(ccxt_async, self.crypto_exchange)(config)
            if self._api_url_override:
                exchange.urls["api"] = _rebase_urls(exchange.urls["api"], self._api_url_override)
            self._exchange = exchange
        return self._exchange

    async def _ccxt_call(self, symbol: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one ccxt call, retrying transient failures; map every ccxt error to one line."""
        import ccxt.async_support as ccxt_async

        exchange = self.crypto_exchange
        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            try:
                return await call()
            except ccxt_async.NetworkError as exc:
                # RateLimitExceeded, DDoSProtection, RequestTimeout, ExchangeNotAvailable...
                if offline := self._went_offline(exc):
                    # A name that does not resolve will not resolve in a few seconds either.
                    raise MarketDataError(symbol, self.name, offline) from exc
                if attempt + 1 < attempts:
                    await asyncio.sleep(self._retry_delays[attempt])
                    continue
                raise MarketDataError(
                    symbol,
                    self.name,
                    f"network error or rate limit at {exchange} ({attempts} attempts), "
                    f"try again later: {_first_line(exc)}",
                ) from exc
            except ccxt_async.BadSymbol as exc:
                market = crypto_market(exchange, symbol, self.crypto_markets)
                raise MarketDataError(
                    symbol,
                    self.name,
                    f"{exchange} has no market {market}; map {symbol.upper()} to one it lists "
                    "with crypto_markets",
                ) from exc
            except ccxt_async.ExchangeError as exc:
                raise MarketDataError(
                    symbol, self.name, f"{exchange} error: {_first_line(exc)}"
                ) from exc
            except ccxt_async.BaseError as exc:
                raise MarketDataError(
                    symbol, self.name, f"{exchange} request failed: {_first_line(exc)}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _page_limit_of(self, exchange: Any) -> int:
        if self._page_limit:
            return self._page_limit
        features = getattr(exchange, "features", None) or {}
        limit = (features.get("spot") or {}).get("fetchOHLCV", {}).get("limit")
        return int(limit) if limit else _DEFAULT_PAGE_LIMIT

    async def _fetch_crypto(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        exchange = await self._get_exchange(symbol)
        exchange_id = self.crypto_exchange
        market = crypto_market(exchange_id, symbol, self.crypto_markets)
        today = self._clock().astimezone(dt.UTC).date()
        last_wanted = min(end, today - dt.timedelta(days=1))
        if last_wanted < start:
            raise MarketDataError(
                symbol,
                self.name,
                f"no complete daily candle between {start} and {end} yet "
                "(the current UTC day's candle is still forming)",
            )
        await self._ccxt_call(symbol, exchange.load_markets)
        limit = self._page_limit_of(exchange)
        start_ms, stop_ms = _epoch_ms(start), _epoch_ms(last_wanted)

        rows: dict[int, list[Any]] = {}
        first_page: list[list[Any]] | None = None
        since = start_ms
        while since <= stop_ms:
            page = await self._ccxt_call(
                symbol,
                lambda since=since: exchange.fetch_ohlcv(market, "1d", since=since, limit=limit),
            )
            page = [row for row in page if row and row[0] is not None and row[0] >= since]
            if first_page is None:
                first_page = page
            if not page:
                break
            for row in page:
                rows[int(row[0])] = row
            since = int(page[-1][0]) + _DAY_MS  # strictly increasing: the loop ends

        where = f"{market} on {exchange_id}"
        if not rows:
            raise MarketDataError(
                symbol, self.name, f"no daily candles for {where} between {start} and {end}"
            )
        first_day = _ms_to_date(min(rows))
        if first_day > start + dt.timedelta(days=1):
            self._check_history_reaches(symbol, where, start, first_day, today, first_page, limit)

        frame = pd.DataFrame(
            [row[:6] for row in rows.values()],
            columns=["timestamp", "open", "high", "low", "close", "volume"],
        )
        frame.index = pd.DatetimeIndex(
            pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True).dt.tz_localize(None),
            name="date",
        ).normalize()
        frame = frame.sort_index().loc[pd.Timestamp(start) : pd.Timestamp(last_wanted)]
        if frame.empty:
            raise MarketDataError(
                symbol, self.name, f"no daily candles for {where} between {start} and {end}"
            )
        frame = frame.astype("float64")
        frame["adj_close"] = frame["close"]
        self._check_fresh(symbol, where, frame, last_wanted, CRYPTO_MAX_STALENESS_DAYS)
        return frame

    def _check_history_reaches(
        self,
        symbol: str,
        where: str,
        start: dt.date,
        first_day: dt.date,
        today: dt.date,
        first_page: list[list[Any]] | None,
        limit: int,
    ) -> None:
        """History starts after `start`: fine for a later listing, not for a capped exchange."""
        exchange_id = self.crypto_exchange
        alternatives = ", ".join(e for e in LONG_HISTORY_EXCHANGES if e != exchange_id)
        cap = HISTORY_CAPS.get(exchange_id)
        if cap is not None and start <= today - dt.timedelta(days=cap):
            raise MarketDataError(
                symbol,
                self.name,
                f"{exchange_id} serves only its latest {cap} daily candles: {where} starts "
                f"{first_day}, the request {start}; ask for less history or use an exchange "
                f"with a longer one ({alternatives})",
            )
        # An exchange we know nothing about that answered a full page ending at today, however
        # far back `since` was: it ignored `since`, the history is cut, not a late listing.
        if (
            first_page
            and len(first_page) >= limit - 1
            and _ms_to_date(first_page[-1][0]) >= today - dt.timedelta(days=1)
        ):
            raise MarketDataError(
                symbol,
                self.name,
                f"{exchange_id} returned only its latest {len(first_page)} daily candles of "
                f"{where} (from {first_day}), not history from {start}; ask for less history "
                f"or use an exchange with a longer one ({alternatives})",
            )

    def _check_fresh(
        self, symbol: str, where: str, frame: pd.DataFrame, reference: dt.date, max_days: int
    ) -> None:
        last = frame.index[-1].date()
        if (reference - last).days > max_days:
            raise MarketDataError(
                symbol,
                self.name,
                f"{where} stops at {last}, {(reference - last).days} days before {reference} "
                "(halted, delisted, or the source failed part-way)",
            )

    # ----- everything else through yfinance ------------------------------------------------

    async def _check_yahoo_resolves(self, symbol: str, injected: bool = False) -> None:
        """Resolve Yahoo's host once before the first real request: offline, that fails in
        milliseconds, before yfinance is even imported (seconds on a busy machine)."""
        if injected or self._yf_history is not _REAL_YAHOO_CALLS[0]:
            return  # an injected yfinance call (tests, stand-ins) brings its own transport
        if self._resolved is None:
            self._resolved = asyncio.ensure_future(
                asyncio.to_thread(socket.getaddrinfo, YAHOO_HOST, 443)
            )
        try:
            await asyncio.shield(self._resolved)
        except OSError as exc:
            self.offline = self.offline or offline_reason(YAHOO_HOST)
            raise MarketDataError(symbol, self.name, self.offline) from exc

    async def _yahoo_call(
        self, symbol: str, ticker: str, start: dt.date, end_exclusive: dt.date
    ) -> pd.DataFrame:
        await self._check_yahoo_resolves(symbol)
        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            try:
                async with self._yahoo_slots:
                    return await asyncio.to_thread(self._yf_history, ticker, start, end_exclusive)
            except Exception as exc:
                if offline := self._went_offline(exc):
                    raise MarketDataError(symbol, self.name, offline) from exc
                transient, reason = _yahoo_failure(ticker, exc)
                if transient and attempt + 1 < attempts:
                    await asyncio.sleep(self._retry_delays[attempt])
                    continue
                if transient:
                    reason = f"{reason} ({attempts} attempts), try again later"
                raise MarketDataError(symbol, self.name, reason) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch_yahoo(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        ticker = yahoo_ticker(symbol, self.yahoo_tickers)
        where = f"Yahoo Finance {ticker}"
        raw = await self._yahoo_call(symbol, ticker, start, end + dt.timedelta(days=1))
        frame = _normalize_yahoo(raw)
        now_ny = self._clock().astimezone(NEW_YORK)
        today_ny = now_ny.date()
        if not frame.empty and now_ny.time() < US_CLOSE:
            frame = frame.loc[frame.index < pd.Timestamp(today_ny)]  # today's bar is forming
        frame = frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        if frame.empty:
            raise MarketDataError(
                symbol,
                self.name,
                f"{where} returned no bars between {start} and {end} "
                "(unknown or delisted ticker, or Yahoo failed without saying so)",
            )
        reference = min(end, today_ny - dt.timedelta(days=1))
        if reference >= start:
            self._check_fresh(symbol, where, frame, reference, OTHER_MAX_STALENESS_DAYS)
        return frame


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _ms_to_date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date()


_YAHOO_COLUMNS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "volume": "volume",
}


def _normalize_yahoo(raw: pd.DataFrame | None) -> pd.DataFrame:
    """yfinance's frame -> open high low close volume adj_close on a naive local-date index."""
    columns = ["open", "high", "low", "close", "volume", "adj_close"]
    if raw is None or raw.empty:
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="date"))
    frame = raw.copy()
    if isinstance(frame.columns, pd.MultiIndex):  # yf.download shape: (field, ticker)
        frame.columns = frame.columns.get_level_values(0)
    frame.columns = [_YAHOO_COLUMNS.get(str(c).strip().lower(), str(c)) for c in frame.columns]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    if "adj_close" not in frame.columns and "close" in frame.columns:
        frame["adj_close"] = frame["close"]
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # keep the exchange's local date, not UTC's
    frame.index = index.normalize().rename("date")
    present = [c for c in columns if c in frame.columns]
    return frame[present].sort_index()


def _report_dates(raw: Any) -> list[dt.date]:
    """The report days in yfinance's earnings-dates frame (its index, report times in New York
    time; older versions had an `Earnings Date` column), sorted; [] for None or garbage."""
    if not isinstance(raw, pd.DataFrame) or raw.empty:
        return []
    values = raw["Earnings Date"] if "Earnings Date" in raw.columns else raw.index
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(values, errors="coerce", format="mixed"))
    except (TypeError, ValueError):
        try:  # offsets that differ (EST and EDT) in text need a common zone first
            stamps = pd.DatetimeIndex(
                pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
            )
        except (TypeError, ValueError):
            return []
    if stamps.tz is not None:
        stamps = stamps.tz_convert(NEW_YORK)  # the company's report day, not UTC's
    return sorted({stamp.date() for stamp in stamps if not pd.isna(stamp)})


def _is_rate_limit(exc: Exception) -> bool:
    try:
        from yfinance.exceptions import YFRateLimitError
    except ImportError:  # pragma: no cover - yfinance is a dependency
        return False
    return isinstance(exc, YFRateLimitError)


def _yahoo_failure(ticker: str, exc: Exception) -> tuple[bool, str]:
    """(transient?, one-line reason) for an exception out of yfinance."""
    try:
        from yfinance import exceptions as yf_errors
    except ImportError:  # pragma: no cover - yfinance is a dependency
        yf_errors = None
    if yf_errors is not None:
        if isinstance(exc, yf_errors.YFRateLimitError):
            return True, f"Yahoo Finance rate limit for {ticker}"
        if isinstance(exc, yf_errors.YFTickerMissingError):
            return False, f"Yahoo Finance has no data for {ticker}: {_first_line(exc)}"
    if isinstance(exc, OSError):  # ConnectionError, TimeoutError, curl_cffi's RequestException
        return True, f"network error reaching Yahoo Finance for {ticker}: {_first_line(exc)}"
    return False, f"Yahoo Finance request for {ticker} failed: {_first_line(exc)}"
