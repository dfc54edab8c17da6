"""Reference data besides bars: S&P 500 companies' earnings dates (for the buyback blackout) and
listed leveraged ETFs' AUM, fetched from the live source through the storage cache.

Only a live source is asked (sample and CSV data never touch the network); each figure is
refetched when its cached copy is older than its refresh age, and a failed fetch falls back to
the cache. Whatever cannot be had falls back to the rule of thumb (blackout) or the fund
registry's figure (AUM), and every estimate's basis says which it used.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from flows.buybacks import KnownReports, blackout_for
from flows.funds import FundRegistry, LeveragedFund, RebalancingFund, with_program_aum
from flows.models.leveraged import listed_ticker, with_aum
from flows.results import BuybackBlackout
from flows.sp500 import CompanyList, largest_sp500_companies

log = logging.getLogger(__name__)

T = TypeVar("T")

EARNINGS_MAX_AGE = dt.timedelta(days=7)
"""Cached earnings dates younger than this are used as they are: report dates move rarely, and
a hundred companies take a while to fetch."""
AUM_MAX_AGE = dt.timedelta(days=1)
"""Fund AUM is refetched at most daily."""
AUM_FALLBACK_AGE = dt.timedelta(days=7)
"""When a refetch fails, a cached AUM up to this old (dated in its source) still beats the
registry's; older, the registry's figure is used."""
FETCH_CONCURRENCY = 4
PROBE_SIZE = 4
"""The first fetches of a refresh go alone: if every one fails (offline, blocked) the rest are
not tried, so an offline run costs a handful of failed requests rather than a hundred."""
REFRESH_TIMEOUT_S = 90.0
"""A refresh stops waiting after this long and uses what it has (cache, rule, registry)."""
EARNINGS_SOURCE = "Yahoo Finance earnings calendar"
AUM_SOURCE = "Yahoo Finance totalAssets"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _first_line(exc: BaseException, limit: int = 120) -> str:
    # A MarketDataError's reason, without the "SYMBOL from SOURCE:" its message starts with.
    text = str(getattr(exc, "reason", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def live_reference_source(source: Any) -> Any | None:
    """`source` when it can fetch reference data live (a LiveSource, or a wrapper passing its
    calls through); None for sample and CSV data, which must never reach the network."""
    if (
        source is None
        or getattr(source, "is_sample", True)
        or getattr(source, "name", "") != "live"
    ):
        return None
    if not (hasattr(source, "earnings_dates") and hasattr(source, "fund_aum")):
        return None
    return source


def leveraged_funds_asked(question: str, registry: FundRegistry) -> list[LeveragedFund]:
    """The registry's leveraged funds on a question's assets when it asks about leveraged ETFs:
    the only funds whose live AUM its answer can use."""
    from flows.questions.parse import parse_question

    parsed = parse_question(question, registry.symbols)
    if "leveraged" not in parsed.sources:
        return []
    return [fund for asset in parsed.assets for fund in registry.leveraged_on(asset)]


def programs_asked(question: str, registry: FundRegistry) -> list[RebalancingFund]:
    """The registry's programs holding a question's assets whose AUM can be fetched live."""
    from flows.questions.parse import parse_question

    parsed = parse_question(question, registry.symbols)
    return [
        program
        for asset in parsed.assets
        for program in registry.programs_holding(asset)
        if program.aum_live_ticker
    ]


def _first_failure(failures: dict[str, str]) -> str:
    ticker, reason = next(iter(failures.items()))
    return reason if ticker in reason else f"{ticker}: {reason}"


def _fetched_label(provider: str, moments: Iterable[dt.datetime]) -> str:
    days = sorted({moment.astimezone(dt.UTC).date() for moment in moments})
    if not days:
        return provider
    when = f"{days[0]}" if len(days) == 1 else f"{days[0]} to {days[-1]}"
    return f"{provider}, fetched {when}"


class ReferenceData:
    """Earnings dates and leveraged-fund AUM for one run (a CLI command, a tick, a chat command).

    `cache` is a `storage.reference.ReferenceCache` (or None: fetch without keeping anything);
    `source` the run's bar source. Problems are collected in `warnings` (one line each) and
    logged; nothing here raises for a failed fetch or an unusable cache.
    """

    def __init__(
        self,
        cache: Any | None,
        source: Any | None,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        timeout_s: float = REFRESH_TIMEOUT_S,
        on_fetch: Callable[[str], None] | None = None,
    ) -> None:
        self.cache = cache
        self.source = live_reference_source(source)
        self.clock = clock
        self.timeout_s = timeout_s
        self.on_fetch = on_fetch
        """Called with a one-line note before a refresh that fetches (a CLI progress line)."""
        self.warnings: list[str] = []

    @classmethod
    def for_store(
        cls, store: Any, source: Any, clock: Callable[[], dt.datetime] = _utc_now
    ) -> ReferenceData:
        """Through a `storage.Store`'s reference cache (none when the store has no such cache)."""
        return cls(getattr(store, "reference", None), source, clock=clock)

    @property
    def live(self) -> bool:
        return self.source is not None

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        log.warning("%s", text)

    # ------------------------------------------------------------------ earnings dates

    async def known_reports(self, companies: CompanyList | None = None) -> KnownReports | None:
        """Every company's known report dates, from the cache where fresh and from the source
        otherwise; None (use the rule of thumb) when the source is not live or no company has
        a date at all."""
        if self.source is None:
            return None
        companies = companies or largest_sp500_companies()
        tickers = companies.tickers
        now = self.clock()
        cached = await self._read("earnings dates", lambda cache: cache.earnings_dates(tickers))
        stale = [
            ticker
            for ticker in tickers
            if ticker not in cached or now - cached[ticker].fetched_at > EARNINGS_MAX_AGE
        ]
        fetched: dict[str, list[dt.date]] = {}
        if stale:
            self._note(
                f"fetching earnings dates of {len(stale)} companies from Yahoo Finance "
                f"(kept for {EARNINGS_MAX_AGE.days} days)…"
            )
            fetched, failures = await self._fetch_all(stale, self.source.earnings_dates)
            if fetched:
                await self._write(
                    "earnings dates", lambda cache: cache.save_earnings_dates(fetched, now)
                )
            if failures:
                reused = sum(1 for ticker in failures if ticker in cached)
                self.warn(
                    f"no fresh earnings dates for {len(failures)} of {len(stale)} companies "
                    f"({_first_failure(failures)}); "
                    + (f"cached dates used for {reused}" if reused else "none of them cached")
                )
        dates = {ticker: entry.dates for ticker, entry in cached.items()}
        moments = {ticker: entry.fetched_at for ticker, entry in cached.items()}
        for ticker, days in fetched.items():
            dates[ticker], moments[ticker] = tuple(days), now
        if not dates:
            return None
        return KnownReports(
            dates=dates,
            companies=len(tickers),
            universe=companies.description,
            source=_fetched_label(EARNINGS_SOURCE, moments.values()),
        )

    async def blackout(self, day: dt.date, companies: CompanyList | None = None) -> BuybackBlackout:
        """The blackout on `day`: from earnings dates when they cover its season, else the rule
        of thumb (labelled either way)."""
        return blackout_for(day, await self.known_reports(companies))

    # ------------------------------------------------------------------ leveraged-fund AUM

    async def leveraged_aum(
        self, registry: FundRegistry, funds: Iterable[LeveragedFund] | None = None
    ) -> dict[str, tuple[float, str, dt.date]]:
        """Live AUM per listed leveraged fund (of `funds`, default all the registry's):
        ticker -> (aum_usd, source, day fetched). Funds left out keep the registry's figure."""
        if self.source is None:
            return {}
        wanted = registry.leveraged if funds is None else funds
        tickers = sorted({t for fund in wanted if (t := listed_ticker(fund))})
        if not tickers:
            return {}
        label = _fetched_label(AUM_SOURCE, [self.clock()])

        async def fetch(ticker: str) -> tuple[float, str]:
            return await self._fund_aum(ticker), label

        figures, _ = await self._cached_aum(
            tickers, "fund AUM", fetch, noun="funds", fallback="the fund registry's"
        )
        return figures

    async def registry_with_live_aum(
        self,
        registry: FundRegistry,
        funds: Iterable[LeveragedFund] | None = None,
        programs: Iterable[RebalancingFund] | None = None,
    ) -> FundRegistry:
        """`registry` with live AUM for its listed leveraged funds (of `funds`, default all)
        and its programs with `aum.from = "ticker"` (of `programs`; default all when `funds`
        is not given either, none otherwise); unchanged when the source is not live."""
        figures = await self.leveraged_aum(registry, funds)
        registry = with_aum(registry, figures) if figures else registry
        if programs is None and funds is None:
            programs = registry.all_programs()
        if programs:
            found, failed = await self.program_aum(programs)
            if found or failed:
                registry = with_program_aum(registry, found, failed)
        return registry

    # ------------------------------------------------------------------ program AUM

    async def program_aum(
        self, programs: Iterable[RebalancingFund]
    ) -> tuple[dict[str, tuple[float, str, dt.date]], list[str]]:
        """Live total assets in USD per program ticker (`aum.from = "ticker"`), converted at
        the day's FX rate from the same source and cached for a day: (ticker -> (aum_usd,
        source, day fetched), tickers that could not be had). A failed fetch falls back to a
        cached figure up to AUM_FALLBACK_AGE old, else (the ticker is in the second list) to
        the registry's dated figure."""
        if self.source is None or not hasattr(self.source, "fund_assets"):
            return {}, []
        tickers = sorted({p.aum_live_ticker for p in programs if p.aum_live_ticker})
        if not tickers:
            return {}, []
        now = self.clock()
        result, failures = await self._cached_aum(
            tickers,
            "program AUM",
            lambda ticker: self._program_aum(ticker, now),
            noun="program(s)",
            fallback="the registry's dated fallback",
            note="fetching total assets of {} fund(s) from Yahoo Finance…",
        )
        return result, [ticker for ticker in failures if ticker not in result]

    async def _cached_aum(
        self,
        tickers: list[str],
        what: str,
        fetch: Callable[[str], Awaitable[tuple[float, str]]],
        *,
        noun: str,
        fallback: str,
        note: str | None = None,
    ) -> tuple[dict[str, tuple[float, str, dt.date]], dict[str, str]]:
        """AUM per ticker from the day cache, fetching (with `fetch`: (aum_usd, source)) those
        older than AUM_MAX_AGE: (ticker -> (aum_usd, source, day fetched), failed fetches).
        A failed fetch keeps a cached figure up to AUM_FALLBACK_AGE old; one warning says so."""
        now = self.clock()
        cached = await self._read(what, lambda cache: cache.fund_aum(tickers))
        stale = [t for t in tickers if t not in cached or now - cached[t].fetched_at > AUM_MAX_AGE]
        fetched: dict[str, tuple[float, str]] = {}
        failures: dict[str, str] = {}
        if stale:
            if note:
                self._note(note.format(len(stale)))
            fetched, failures = await self._fetch_all(stale, fetch)
            if fetched:
                await self._write(what, lambda cache: cache.save_fund_aum(fetched, now))
            if failures:
                self.warn(
                    f"no fresh AUM for {len(failures)} of {len(stale)} {noun} "
                    f"({_first_failure(failures)}); they keep a figure fetched in the last "
                    f"{AUM_FALLBACK_AGE.days} days, else {fallback}"
                )
        return _aum_figures(cached, fetched, now), failures

    async def _program_aum(self, ticker: str, now: dt.datetime) -> tuple[float, str]:
        assets, currency = await self.source.fund_assets(ticker)
        day = now.astimezone(dt.UTC).date()
        if currency == "USD":
            return assets, f"{AUM_SOURCE} of {ticker}, fetched {day}"
        rate = await self.source.usd_per(currency)
        return assets * rate, (
            f"{AUM_SOURCE} of {ticker}: {currency} {assets:,.0f} at {currency}USD=X {rate:.4f} "
            f"(Yahoo Finance), fetched {day}"
        )

    async def _fund_aum(self, ticker: str) -> float:
        value = await self.source.fund_aum(ticker)
        if value is None:
            # A network that is down is not Yahoo's missing figure: say which it was.
            offline = getattr(self.source, "offline", None)
            raise LookupError(offline or "no totalAssets on Yahoo Finance")
        return value

    # ------------------------------------------------------------------ plumbing

    def _note(self, text: str) -> None:
        if self.on_fetch is not None:
            self.on_fetch(text)

    async def _read(
        self, what: str, query: Callable[[Any], Awaitable[dict[str, T]]]
    ) -> dict[str, T]:
        if self.cache is None:
            return {}
        try:
            return await query(self.cache)
        except Exception as exc:
            self.warn(f"{what}: cache unreadable ({_first_line(exc)}); fetching without it")
            self.cache = None
            return {}

    async def _write(self, what: str, write: Callable[[Any], Awaitable[None]]) -> None:
        if self.cache is None:
            return
        try:
            await write(self.cache)
        except Exception as exc:
            self.warn(f"{what}: could not be cached ({_first_line(exc)})")

    async def _fetch_all(
        self, tickers: Sequence[str], fetch: Callable[[str], Awaitable[T]]
    ) -> tuple[dict[str, T], dict[str, str]]:
        """Fetch every ticker, a few at a time, within `timeout_s`: (results, failure reasons).
        When the probe batch fails entirely the rest are not tried (offline)."""
        results: dict[str, T] = {}
        failures: dict[str, str] = {}
        slots = asyncio.Semaphore(FETCH_CONCURRENCY)
        deadline = asyncio.get_running_loop().time() + self.timeout_s

        async def one(ticker: str) -> None:
            async with slots:
                try:
                    results[ticker] = await fetch(ticker)
                except Exception as exc:
                    failures[ticker] = _first_line(exc)

        async def batch(group: Sequence[str]) -> None:
            tasks = [asyncio.create_task(one(ticker)) for ticker in group]
            if not tasks:
                return
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            _, pending = await asyncio.wait(tasks, timeout=left)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for ticker in group:
                if ticker not in results and ticker not in failures:
                    failures[ticker] = f"no answer within {self.timeout_s:g} s"

        probe, rest = tickers[:PROBE_SIZE], tickers[PROBE_SIZE:]
        await batch(probe)
        if rest and not results:
            reason = next(iter(failures.values()), "failed")
            for ticker in rest:
                failures[ticker] = f"not tried: the first {len(probe)} failed ({reason})"
            return results, failures
        await batch(rest)
        return results, failures


async def tick_known_reports(
    store: Any, source: Any, clock: Callable[[], dt.datetime] = _utc_now
) -> KnownReports | None:
    """Earnings dates for a monitor tick's calendar digests and heads-ups (None: rule of
    thumb), through `store`'s cache."""
    return await ReferenceData.for_store(store, source, clock).known_reports()


@contextlib.asynccontextmanager
async def open_reference(
    database_url: str | None,
    source: Any,
    *,
    clock: Callable[[], dt.datetime] = _utc_now,
    on_fetch: Callable[[str], None] | None = None,
) -> AsyncIterator[ReferenceData]:
    """ReferenceData for a CLI run: opens the store (migrating it) only when the source is
    live. A database that cannot be opened costs a warning, never the command."""
    from storage.store import Store

    data = ReferenceData(None, source, clock=clock, on_fetch=on_fetch)
    store = None
    if data.live:
        try:
            store = await Store.open(database_url)
        except Exception as exc:
            data.warn(f"reference cache unavailable ({_first_line(exc)}); fetching without it")
        else:
            data.cache = store.reference
    try:
        yield data
    finally:
        if store is not None:
            await store.close()


def _aum_figures(
    cached: dict, fetched: dict[str, tuple[float, str]], now: dt.datetime
) -> dict[str, tuple[float, str, dt.date]]:
    """(aum, source, as-of) per ticker: what was fetched now, else a cached figure no older than
    AUM_FALLBACK_AGE."""
    result: dict[str, tuple[float, str, dt.date]] = {}
    for ticker, entry in cached.items():
        if ticker not in fetched and now - entry.fetched_at <= AUM_FALLBACK_AGE:
            result[ticker] = (entry.aum_usd, entry.source, entry.fetched_at.date())
    for ticker, (aum, label) in fetched.items():
        result[ticker] = (aum, label, now.date())
    return result
