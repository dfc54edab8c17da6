"""Positioning sources: the ccxt paths against a stand-in exchange answering in ccxt's unified
structures (an exchange without long/short data, history cut short, coins-only open interest, a
rate limit), the Yahoo share-count flows on given responses (a fund missing a day, a holiday,
two figures for one day), the per-day cache (history grows, a restated flow replaces the old),
sample determinism and CSV files."""

from __future__ import annotations

import datetime as dt

import ccxt.async_support as ccxt_async
import pandas as pd
import pytest

from bot.positioning_cache import ETF_FLOWS_CACHE_KEY, CachedPositioningSource
from flows.errors import MarketDataError
from flows.positioning.csvdir import CsvPositioningSource
from flows.positioning.live import LivePositioningSource
from flows.positioning.sample import SamplePositioningSource
from storage.store import Store

DAY_MS = 86_400_000
TODAY = dt.date(2024, 12, 20)


def ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


class StandInExchange:
    """A ccxt exchange's unified public methods over a fixed history, paged like the real ones
    (`since` inclusive, at most `limit` records, oldest first)."""

    def __init__(
        self,
        first_oi_day: dt.date,
        *,
        has_ratio: bool = True,
        coins_only: bool = False,
        rate_limited_calls: int = 0,
        page: int = 7,
    ) -> None:
        self.has = {
            "fetchOpenInterestHistory": True,
            "fetchFundingRateHistory": True,
            "fetchLongShortRatioHistory": has_ratio,
        }
        self.first_oi_day = first_oi_day
        self.coins_only = coins_only
        self.rate_limited_calls = rate_limited_calls
        self.page = page
        self.calls: list[tuple[str, int | None]] = []
        self.closed = False

    def _days(self, first: dt.date) -> list[dt.date]:
        return [first + dt.timedelta(days=i) for i in range((TODAY - first).days + 1)]

    def _window(self, records: list[dict], since: int | None, limit: int | None) -> list[dict]:
        chosen = [r for r in records if since is None or r["timestamp"] >= since]
        return chosen[: min(limit or self.page, self.page)]

    def _maybe_rate_limit(self) -> None:
        if self.rate_limited_calls:
            self.rate_limited_calls -= 1
            raise ccxt_async.RateLimitExceeded("binanceusdm 429 Too Many Requests")

    async def load_markets(self):
        self._maybe_rate_limit()
        return {"BTC/USDT:USDT": {}}

    async def fetch_open_interest_history(self, symbol, timeframe="1d", since=None, limit=None):
        self._maybe_rate_limit()
        self.calls.append(("oi", since))
        assert symbol == "BTC/USDT:USDT" and timeframe == "1d"
        records = []
        for i, day in enumerate(self._days(self.first_oi_day)):
            coins = 100_000.0 + 1000 * i
            records.append(
                {
                    "symbol": symbol,
                    "timestamp": ms(day),
                    "openInterestAmount": coins,
                    "openInterestValue": None if self.coins_only else coins * 50_000.0,
                }
            )
        return self._window(records, since, limit)

    async def fetch_funding_rate_history(self, symbol, since=None, limit=None):
        self.calls.append(("funding", since))
        records = [
            {"symbol": symbol, "timestamp": ms(day) + hour * 3_600_000, "fundingRate": rate}
            for day in self._days(dt.date(2024, 11, 1))
            for hour, rate in ((0, 0.0001), (8, 0.0002), (16, 0.0003))
        ]
        return self._window(records, since, limit)

    async def fetch_long_short_ratio_history(self, symbol, timeframe=None, since=None, limit=None):
        self.calls.append(("ratio", since))
        records = [
            {"symbol": symbol, "timestamp": ms(day), "longShortRatio": 1.5}
            for day in self._days(self.first_oi_day)
        ]
        return self._window(records, since, limit)

    async def fetch_ohlcv(self, symbol, timeframe="1d", since=None, limit=None):
        self.calls.append(("ohlcv", since))
        return [
            [ms(day), 40_000.0, 41_000.0, 39_000.0, 40_000.0, 1.0]
            for day in self._days(dt.date(2024, 11, 1))
            if since is None or ms(day) >= since
        ]

    async def close(self):
        self.closed = True


def live(exchange: StandInExchange, now: dt.date = TODAY, **kwargs) -> LivePositioningSource:
    """Binance's id: open-interest statistics are asked for its latest 30 days at most."""
    return LivePositioningSource(
        "binanceusdm",
        exchange_factory=lambda: exchange,
        retry_delays=(0.0, 0.0),
        clock=lambda: dt.datetime(now.year, now.month, now.day, 18, tzinfo=dt.UTC),
        **kwargs,
    )


async def test_ccxt_history_pages_funding_mean_and_ratio():
    exchange = StandInExchange(dt.date(2024, 11, 1))
    source = live(exchange)
    frame = await source.derivatives("BTC", dt.date(2024, 12, 1), dt.date(2024, 12, 20))
    assert frame.index[0].date() == dt.date(2024, 12, 1)
    assert frame.index[-1].date() == dt.date(2024, 12, 20)
    assert len(frame) == 20  # several pages of 7
    assert frame["funding_rate"].iloc[0] == pytest.approx(0.0002)  # mean of the day's three
    assert (frame["long_short_ratio"] == 1.5).all()
    assert frame["open_interest_usd"].iloc[0] == pytest.approx((100_000 + 1000 * 30) * 50_000)
    assert sum(1 for kind, _ in exchange.calls if kind == "oi") >= 3
    await source.close()
    assert exchange.closed


async def test_an_exchange_without_long_short_data_leaves_the_ratio_empty():
    source = live(StandInExchange(dt.date(2024, 11, 1), has_ratio=False))
    frame = await source.derivatives("BTC", dt.date(2024, 12, 10), dt.date(2024, 12, 20))
    assert frame["long_short_ratio"].isna().all()
    assert frame["open_interest_usd"].notna().all()
    assert any("no long/short ratio" in note for note in source.notes)


async def test_binance_is_asked_for_its_latest_30_days_only():
    exchange = StandInExchange(dt.date(2024, 11, 1))
    await live(exchange).derivatives("BTC", dt.date(2024, 10, 1), dt.date(2024, 12, 20))
    first_oi_since = next(since for kind, since in exchange.calls if kind == "oi")
    assert first_oi_since == ms(dt.date(2024, 11, 21))


async def test_truncated_history_is_said_not_hidden():
    # The exchange keeps open interest only from Dec 1 (Binance keeps 30 days).
    source = live(StandInExchange(dt.date(2024, 12, 1)))
    frame = await source.derivatives("BTC", dt.date(2024, 11, 10), dt.date(2024, 12, 20))
    assert frame.index[0].date() == dt.date(2024, 12, 1)
    assert any("only from 2024-12-01" in note for note in source.notes)


async def test_coins_only_open_interest_is_valued_at_the_perpetual_close():
    source = live(StandInExchange(dt.date(2024, 11, 1), coins_only=True))
    frame = await source.derivatives("BTC", dt.date(2024, 12, 19), dt.date(2024, 12, 20))
    assert frame["open_interest_usd"].iloc[-1] == pytest.approx((100_000 + 1000 * 49) * 40_000.0)


async def test_a_rate_limit_is_retried_then_reported():
    source = live(StandInExchange(dt.date(2024, 11, 1), rate_limited_calls=2))
    frame = await source.derivatives("BTC", dt.date(2024, 12, 18), dt.date(2024, 12, 20))
    assert len(frame) == 3  # two 429s, then through
    failing = live(StandInExchange(dt.date(2024, 11, 1), rate_limited_calls=10))
    with pytest.raises(MarketDataError, match="rate limit at binanceusdm"):
        await failing.derivatives("BTC", dt.date(2024, 12, 18), dt.date(2024, 12, 20))


# ---------------------------------------------------------------- ETF flows from share counts


def shares_response(rows: dict[str, float]) -> pd.Series:
    """What yfinance's get_shares_full returns: share counts on tz-aware New York timestamps,
    sometimes two for one day."""
    index = pd.DatetimeIndex([pd.Timestamp(k, tz="America/New_York") for k in rows])
    return pd.Series(list(rows.values()), index=index)


CLOSES = {
    "2024-11-25": 50.0,
    "2024-11-26": 51.0,
    "2024-11-27": 52.0,
    "2024-11-29": 53.0,  # Nov 28: Thanksgiving, no session
    "2024-12-02": 54.0,
}


def yahoo(shares: dict[str, dict[str, float]]):
    def shares_full(ticker, start, end):
        return shares_response(shares.get(ticker, {}))

    def closes(ticker, start, end):
        if ticker not in shares:
            return pd.Series(dtype="float64")
        return shares_response(CLOSES)

    return {"shares_full": shares_full, "closes": closes}


IBIT_SHARES = {
    "2024-11-25 09:30": 1_000_000.0,
    "2024-11-26 09:30": 1_100_000.0,
    "2024-11-27 09:30": 1_050_000.0,
    "2024-11-29 09:30": 1_000_000.0,  # first figure of the day ...
    "2024-11-29 17:00": 1_200_000.0,  # ... and the one Yahoo listed later: the last wins
    "2024-12-02 09:30": 1_250_000.0,
}
FBTC_SHARES = {  # Nov 27 missing
    "2024-11-25 09:30": 500_000.0,
    "2024-11-26 09:30": 490_000.0,
    "2024-11-29 09:30": 520_000.0,
    "2024-12-02 09:30": 520_000.0,
}


async def test_flows_from_share_counts_holiday_missing_day_and_duplicates():
    source = live(
        StandInExchange(dt.date(2024, 11, 1)),
        **yahoo({"IBIT": IBIT_SHARES, "FBTC": FBTC_SHARES}),
    )
    flows = await source.etf_flows("BTC", dt.date(2024, 11, 26), dt.date(2024, 12, 2))
    got = {(row.date.date().isoformat(), row.fund): row.flow_usd for row in flows.itertuples()}
    assert got[("2024-11-26", "IBIT")] == pytest.approx(100_000 * 51.0)
    assert got[("2024-11-27", "IBIT")] == pytest.approx(-50_000 * 52.0)
    # Across the holiday: Nov 29 against Nov 27, with the day's last share count.
    assert got[("2024-11-29", "IBIT")] == pytest.approx(150_000 * 53.0)
    assert ("2024-11-28", "IBIT") not in got
    # FBTC has no count on Nov 27: that day and the next are unknown, not zero.
    assert ("2024-11-27", "FBTC") not in got and ("2024-11-29", "FBTC") not in got
    assert got[("2024-12-02", "FBTC")] == 0.0  # a real zero: counts on both days, unchanged
    assert any("FBTC: 2 session(s) without a Yahoo share count" in n for n in source.notes)
    # Funds Yahoo has nothing for are absent (unknown), not zero.
    assert not any(fund == "BITB" for _, fund in got)


# ---------------------------------------------------------------- the per-day cache


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    yield store
    await store.close()


async def test_cached_history_grows_past_what_the_exchange_keeps(store):
    # A run on Nov 30 keeps November (the 30 days Binance serves then).
    early = CachedPositioningSource(
        live(StandInExchange(dt.date(2024, 11, 1)), now=dt.date(2024, 11, 30)), store, "x"
    )
    await early.derivatives("BTC", dt.date(2024, 11, 1), dt.date(2024, 11, 30))
    # Later the exchange serves only from Dec 1; the cache still has November.
    later = CachedPositioningSource(live(StandInExchange(dt.date(2024, 12, 1))), store, "x")
    frame = await later.derivatives("BTC", dt.date(2024, 11, 1), dt.date(2024, 12, 20))
    assert frame.index[0].date() == dt.date(2024, 11, 1)
    assert frame.index[-1].date() == dt.date(2024, 12, 20)
    assert len(frame) == 50
    assert any("from the cache" in note for note in later.notes)
    # The exchange down (rate limited throughout): cached days still answer, with a note.
    down = CachedPositioningSource(
        live(StandInExchange(dt.date(2024, 12, 1), rate_limited_calls=99)), store, "x"
    )
    frame = await down.derivatives("BTC", dt.date(2024, 11, 1), dt.date(2024, 12, 20))
    assert len(frame) == 50 and any("cached days only" in note for note in down.notes)


async def test_a_restated_flow_replaces_the_cached_day(store):
    first = CachedPositioningSource(
        live(StandInExchange(dt.date(2024, 11, 1)), **yahoo({"IBIT": IBIT_SHARES})), store, "x"
    )
    await first.etf_flows("BTC", dt.date(2024, 11, 26), dt.date(2024, 12, 2))
    restated = dict(IBIT_SHARES, **{"2024-11-26 09:30": 1_150_000.0})
    second = CachedPositioningSource(
        live(StandInExchange(dt.date(2024, 11, 1)), **yahoo({"IBIT": restated})), store, "x"
    )
    flows = await second.etf_flows("BTC", dt.date(2024, 11, 26), dt.date(2024, 12, 2))
    day = flows[(flows["fund"] == "IBIT") & (flows["date"] == pd.Timestamp("2024-11-26"))]
    assert day["flow_usd"].tolist() == [pytest.approx(150_000 * 51.0)]
    cached = await store.load_etf_flows(
        ETF_FLOWS_CACHE_KEY, ["IBIT"], dt.date(2024, 11, 26), dt.date(2024, 11, 26)
    )
    assert cached["flow_usd"].tolist() == [pytest.approx(150_000 * 51.0)]


# ---------------------------------------------------------------- sample and CSV


async def test_sample_series_are_deterministic_and_labelled():
    one = SamplePositioningSource(dt.date(2025, 3, 1))
    two = SamplePositioningSource(dt.date(2025, 3, 1))
    a = await one.derivatives("BTC", dt.date(2025, 1, 1), dt.date(2025, 3, 1))
    b = await two.derivatives("BTC", dt.date(2025, 1, 1), dt.date(2025, 3, 1))
    pd.testing.assert_frame_equal(a, b)
    assert one.is_sample and "SAMPLE DATA" in one.description
    flows = await one.etf_flows("BTC", dt.date(2025, 2, 1), dt.date(2025, 3, 1))
    assert set(flows["fund"]) >= {"IBIT", "FBTC"}


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


async def test_csv_files_are_read_with_their_headers(tmp_path):
    write(
        tmp_path / "BTC_derivs.csv",
        "date,open_interest_usd,funding_rate,long_short_ratio\n"
        "2024-12-02,1.0e10,0.0001,\n2024-12-03,1.1e10,,1.2\n",
    )
    write(
        tmp_path / "etf_flows.csv",
        "date,fund,asset,flow_usd\n2024-12-02,IBIT,BTC,1.5e8\n2024-12-02,SPY,SPY,1e9\n",
    )
    source = CsvPositioningSource(tmp_path)
    derivs = await source.derivatives("BTC", dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert derivs["long_short_ratio"].isna().tolist() == [True, False]
    assert derivs["funding_rate"].isna().tolist() == [False, True]
    flows = await source.etf_flows("BTC", dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert flows["fund"].tolist() == ["IBIT"] and source.flows_confidence == "measured"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "BTC_derivs.csv",
            "date,open_interest_usd,funding_rate,long_short_ratio\n2024-12-02,1e10,,\n"
            "2024-12-03,lots,,\n",
            "BTC_derivs.csv line 3: a value is not a number",
        ),
        (
            "BTC_derivs.csv",
            "date,oi,funding\n2024-12-02,1e10,0\n",
            "BTC_derivs.csv line 1: header must be",
        ),
        (
            "etf_flows.csv",
            "date,fund,asset,flow_usd\n2024-12-02,IBIT,BTC,1\n2024-13-02,IBIT,BTC,1\n",
            "etf_flows.csv line 3: date '2024-13-02' is not YYYY-MM-DD",
        ),
        (
            "etf_flows.csv",
            "date,fund,asset,flow_usd\n2024-12-02,IBIT,BTC\n",
            "etf_flows.csv line 2: expected 4 fields, got 3",
        ),
    ],
)
async def test_a_malformed_csv_row_names_the_file_and_line(tmp_path, name, text, message):
    write(tmp_path / name, text)
    source = CsvPositioningSource(tmp_path)
    read = source.derivatives if name.endswith("derivs.csv") else source.etf_flows
    with pytest.raises(MarketDataError) as caught:
        await read("BTC", dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert message in str(caught.value)


async def test_a_csv_directory_without_etf_flows_leaves_them_unknown(tmp_path):
    source = CsvPositioningSource(tmp_path)
    flows = await source.etf_flows("BTC", dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert flows.empty and any("ETF flows unknown" in note for note in source.notes)
