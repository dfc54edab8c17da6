"""Live option chains: equities from Yahoo Finance (yfinance), BTC and ETH from Deribit (ccxt).

Yahoo: `Ticker.options` lists the expiries, `Ticker.option_chain(expiry)` gives calls and puts
frames with `strike`, `openInterest`, `impliedVolatility` and `lastTradeDate`. yfinance is
blocking, so every call runs in a thread; an expiry that comes back with empty frames is an error
(Yahoo fails that way without saying so).

Deribit: the public `get_book_summary_by_currency` endpoint with `kind=option` (ccxt's implicit
`publicGetGetBookSummaryByCurrency`; no API key) lists every option instrument with
`open_interest` (contracts of 1 coin) and `mark_iv` (percent). ccxt's unified
`fetch_option_chain` calls the same endpoint but drops `mark_iv`, so the raw rows are read.

A chain is "live" only for today: its `as_of` is the latest NYSE session (equities) or today's
UTC date (crypto). Contracts without an implied vol or open interest are left out and counted
in the chain's `dropped`; a chain whose newest quote is older than the staleness limit is an
error rather than a silently old answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from flows import calendar
from flows.assets import is_crypto
from flows.errors import MarketDataError
from flows.marketdata.live import (
    DEFAULT_RETRY_DELAYS,
    _first_line,
    _rebase_urls,
    _utc_now,
    _yahoo_failure,
    configure_yfinance,
)
from flows.marketdata.live import yahoo_ticker as _yahoo_ticker
from flows.options.chain import CRYPTO_MULTIPLIER, EQUITY_MULTIPLIER, OptionChain

NEW_YORK = ZoneInfo("America/New_York")
DERIBIT_CURRENCIES = ("BTC", "ETH")
MIN_IMPLIED_VOL = 0.001
"""Yahoo prints placeholders like 0.00001 for contracts it has no vol for: treated as missing."""
MAX_EXPIRY_DAYS = 370
"""Expiries further out carry little gamma and cost one Yahoo request each."""
YAHOO_MAX_STALENESS_DAYS = 5
DERIBIT_MAX_STALENESS = dt.timedelta(hours=6)
_YAHOO_CONCURRENCY = 4

YahooExpiries = Callable[[str], Sequence[str]]
YahooChain = Callable[[str, str], tuple[pd.DataFrame, pd.DataFrame]]


def _yahoo_expiries(ticker: str) -> Sequence[str]:
    import yfinance as yf

    configure_yfinance(yf)
    return yf.Ticker(ticker).options


def _yahoo_chain(ticker: str, expiry: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    import yfinance as yf

    configure_yfinance(yf)
    chain = yf.Ticker(ticker).option_chain(expiry)
    return chain.calls, chain.puts


class LiveChainSource:
    """Today's chains from Yahoo Finance (equities) and Deribit (BTC, ETH)."""

    name = "live"
    is_sample = False

    def __init__(
        self,
        *,
        yf_expiries: YahooExpiries | None = None,
        yf_chain: YahooChain | None = None,
        deribit_url_override: str | None = None,
        exchange_config: Mapping[str, Any] | None = None,
        max_expiry_days: int = MAX_EXPIRY_DAYS,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """yf_expiries / yf_chain: the yfinance calls (tests pass recorded frames);
        deribit_url_override: send Deribit's REST calls to this scheme://host (a stand-in);
        retry_delays: seconds before each retry of a network error or rate limit;
        clock: now, timezone-aware."""
        self._retry_delays = tuple(retry_delays)
        self._yf_expiries = yf_expiries or _yahoo_expiries
        self._yf_chain = yf_chain or _yahoo_chain
        self._deribit_url = deribit_url_override
        self._exchange_config = dict(exchange_config or {})
        self._max_expiry_days = max_expiry_days
        self._clock = clock or _utc_now
        self._exchange: Any = None
        self._slots = asyncio.Semaphore(_YAHOO_CONCURRENCY)

    async def chain(self, asset: str, as_of: dt.date | None) -> OptionChain:
        asset = asset.upper()
        today = self.today(asset)
        if as_of is not None and as_of != today:
            raise MarketDataError(
                asset,
                self.name,
                f"live option chains are today's ({today}) only; a past day needs a chain "
                f"cached that day or a CSV directory (--source PATH)",
            )
        if is_crypto(asset):
            return await self._deribit(asset, today)
        return await self._yahoo(asset, today)

    def today(self, asset: str) -> dt.date:
        """The day a live chain describes: today UTC for crypto, the latest NYSE session."""
        now = self._clock()
        if is_crypto(asset):
            return now.astimezone(dt.UTC).date()
        return calendar.session_on_or_before(now.astimezone(NEW_YORK).date())

    async def close(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()

    # ----- Yahoo --------------------------------------------------------------------------

    async def _yahoo_call(self, asset: str, call: Callable[[], Any]) -> Any:
        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            try:
                async with self._slots:
                    return await asyncio.to_thread(call)
            except Exception as exc:
                transient, reason = _yahoo_failure(asset, exc)
                if transient and attempt + 1 < attempts:
                    await asyncio.sleep(self._retry_delays[attempt])
                    continue
                raise MarketDataError(asset, "live:yahoo", reason) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _yahoo(self, asset: str, as_of: dt.date) -> OptionChain:
        ticker = _yahoo_ticker(asset)
        source = "live:yahoo"
        listed = await self._yahoo_call(asset, lambda: self._yf_expiries(ticker))
        horizon = as_of + dt.timedelta(days=self._max_expiry_days)
        expiries = []
        for text in listed or ():
            try:
                day = dt.date.fromisoformat(str(text)[:10])
            except ValueError:
                continue
            if as_of < day <= horizon:
                expiries.append(day)
        if not expiries:
            raise MarketDataError(
                asset,
                source,
                f"no option chain for {asset}: Yahoo Finance lists no {ticker} option expiries "
                f"after {as_of}",
            )
        frames = await asyncio.gather(*(self._yahoo_expiry(asset, ticker, day) for day in expiries))
        frame = pd.concat(frames, ignore_index=True)
        newest = frame.pop("last_trade")
        if newest.notna().any():
            last = pd.Timestamp(newest.max())
            last_day = (last.tz_convert(NEW_YORK) if last.tzinfo else last).date()
            if (as_of - last_day).days > YAHOO_MAX_STALENESS_DAYS:
                raise MarketDataError(
                    asset,
                    source,
                    f"stale option chain: the newest {ticker} option trade is from {last_day}, "
                    f"{(as_of - last_day).days} days before {as_of}",
                )
        frame, dropped = _drop_unusable(frame, asset, source)
        return OptionChain.from_frame(
            frame,
            asset=asset,
            as_of=as_of,
            source=source,
            description=f"Yahoo Finance {ticker} options, {len(expiries)} expiries to "
            f"{expiries[-1]}, open interest as of {as_of}",
            dropped=dropped,
        )

    async def _yahoo_expiry(self, asset: str, ticker: str, expiry: dt.date) -> pd.DataFrame:
        calls, puts = await self._yahoo_call(
            asset, lambda: self._yf_chain(ticker, expiry.isoformat())
        )
        empty = (calls is None or calls.empty) and (puts is None or puts.empty)
        if empty:
            raise MarketDataError(
                asset,
                "live:yahoo",
                f"Yahoo Finance returned an empty {ticker} option chain for {expiry}",
            )
        parts = []
        for frame, kind in ((calls, "call"), (puts, "put")):
            if frame is None or frame.empty:
                continue
            missing = [c for c in ("strike", "openInterest", "impliedVolatility") if c not in frame]
            if missing:
                raise MarketDataError(
                    asset,
                    "live:yahoo",
                    f"Yahoo Finance {ticker} {expiry} {kind}s lack {', '.join(missing)}",
                )
            last = frame.get("lastTradeDate", pd.NaT)
            parts.append(
                pd.DataFrame(
                    {
                        "expiry": expiry.isoformat(),
                        "strike": pd.to_numeric(frame["strike"], errors="coerce"),
                        "type": kind,
                        "open_interest": pd.to_numeric(frame["openInterest"], errors="coerce"),
                        "implied_vol": pd.to_numeric(frame["impliedVolatility"], errors="coerce"),
                        "multiplier": EQUITY_MULTIPLIER,
                        "last_trade": pd.to_datetime(last, errors="coerce", utc=True),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    # ----- Deribit ------------------------------------------------------------------------

    async def _get_exchange(self) -> Any:
        if self._exchange is None:
            ccxt_async = await asyncio.to_thread(importlib.import_module, "ccxt.async_support")
            if self._exchange is None:
                config = {"enableRateLimit": True, "timeout": 20_000, **self._exchange_config}
                exchange = ccxt_async.deribit(config)
                if self._deribit_url:
                    exchange.urls["api"] = _rebase_urls(exchange.urls["api"], self._deribit_url)
                self._exchange = exchange
        return self._exchange

    async def _deribit(self, asset: str, as_of: dt.date) -> OptionChain:
        import ccxt.async_support as ccxt_async

        source = "live:deribit"
        if asset not in DERIBIT_CURRENCIES:
            raise MarketDataError(
                asset,
                source,
                f"no option chain for {asset}: Deribit options are read for "
                f"{', '.join(DERIBIT_CURRENCIES)} only",
            )
        exchange = await self._get_exchange()
        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            try:
                response = await exchange.publicGetGetBookSummaryByCurrency(
                    {"currency": asset, "kind": "option"}
                )
                break
            except ccxt_async.NetworkError as exc:
                # RateLimitExceeded, DDoSProtection, RequestTimeout: worth another try.
                if attempt + 1 < attempts:
                    await asyncio.sleep(self._retry_delays[attempt])
                    continue
                raise MarketDataError(
                    asset,
                    source,
                    f"network error or rate limit at Deribit ({attempts} attempts), try again "
                    f"later: {_first_line(exc)}",
                ) from exc
            except ccxt_async.BaseError as exc:
                raise MarketDataError(asset, source, f"Deribit error: {_first_line(exc)}") from exc
        rows = response.get("result") if isinstance(response, dict) else None
        if not rows:
            raise MarketDataError(
                asset, source, f"no option chain for {asset}: Deribit listed no {asset} options"
            )
        frame, newest = _deribit_frame(asset, rows)
        now = self._clock()
        if newest is not None and now - newest > DERIBIT_MAX_STALENESS:
            raise MarketDataError(
                asset,
                source,
                f"stale option chain: Deribit's newest {asset} option summary is from "
                f"{newest:%Y-%m-%d %H:%M} UTC",
            )
        frame = frame[frame["expiry"] > pd.Timestamp(as_of)]
        frame, dropped = _drop_unusable(frame, asset, source)
        stamp = f", quoted {newest:%Y-%m-%d %H:%M} UTC" if newest is not None else ""
        return OptionChain.from_frame(
            frame,
            asset=asset,
            as_of=as_of,
            source=source,
            description=f"Deribit {asset} options (book summary: open interest, mark IV){stamp}",
            dropped=dropped,
        )


def _deribit_frame(asset: str, rows: Sequence[Mapping[str, Any]]) -> tuple[pd.DataFrame, Any]:
    """Deribit book-summary rows -> chain columns, and the newest summary time (UTC)."""
    records = []
    stamps = []
    for row in rows:
        name = str(row.get("instrument_name", ""))
        parts = name.split("-")
        if len(parts) != 4 or parts[3] not in ("C", "P"):
            continue  # not an option instrument name: BTC-27DEC24-240000-C
        try:
            expiry = dt.datetime.strptime(parts[1], "%d%b%y").date()
            strike = float(parts[2].replace("d", "."))
        except ValueError:
            continue
        mark_iv = row.get("mark_iv")
        records.append(
            {
                "expiry": pd.Timestamp(expiry),
                "strike": strike,
                "type": "call" if parts[3] == "C" else "put",
                "open_interest": _number(row.get("open_interest")),
                "implied_vol": _number(mark_iv) / 100.0,  # percent -> fraction; NaN stays
                "multiplier": CRYPTO_MULTIPLIER,
            }
        )
        if row.get("creation_timestamp") is not None:
            stamps.append(int(row["creation_timestamp"]))
    if not records:
        raise MarketDataError(
            asset, "live:deribit", f"Deribit returned no {asset} option instruments"
        )
    newest = dt.datetime.fromtimestamp(max(stamps) / 1000, tz=dt.UTC) if stamps else None
    return pd.DataFrame.from_records(records), newest


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _drop_unusable(
    frame: pd.DataFrame, asset: str, source: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Leave out contracts with no open interest or no implied vol, and count them. A negative
    vol stays in: the chain check rejects it (a provider bug, not a gap)."""
    no_oi = frame["open_interest"].isna() | (frame["open_interest"] == 0)
    vol = frame["implied_vol"]
    no_iv = ~no_oi & (vol.isna() | ((vol >= 0) & (vol < MIN_IMPLIED_VOL)))
    dropped = {}
    if no_oi.any():
        dropped["no open interest"] = int(no_oi.sum())
    if no_iv.any():
        dropped["no implied vol"] = int(no_iv.sum())
    kept = frame[~(no_oi | no_iv)].reset_index(drop=True)
    if kept.empty:
        left_out = ", ".join(f"{count} {why}" for why, count in dropped.items())
        raise MarketDataError(
            asset, source, f"the option chain has no open interest with an implied vol ({left_out})"
        )
    return kept, dropped
